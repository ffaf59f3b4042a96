/* boot_banner image entry: the port's reset handler calls main(). */
#include "boot_banner.h"

int main(void);

int main(void)
{
    return app_boot_banner_run();
}
