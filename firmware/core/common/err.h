/**
 * @file err.h
 * @brief meterlab error codes (freestanding).
 *
 * Negative codes copy the Linux errno numbers so they map 1:1 to errno on the
 * host (as littlefs does). Functions return >= 0 for success or a count, and
 * < 0 (an enum ml_err value) for an error.
 */
#ifndef FIRMWARE_CORE_COMMON_ERR_H
#define FIRMWARE_CORE_COMMON_ERR_H

enum ml_err {
    ML_OK = 0,
    ML_EPERM = -1,          /**< operation not permitted */
    ML_ENOENT = -2,         /**< no such entry (field, file, key) */
    ML_EIO = -5,            /**< I/O error (UART, flash, socket) */
    ML_EBADF = -9,          /**< bad handle / role */
    ML_EAGAIN = -11,        /**< try again later (no data yet) */
    ML_ENOMEM = -12,        /**< a fixed pool is exhausted */
    ML_EACCES = -13,        /**< authentication / permission failure */
    ML_EFAULT = -14,        /**< NULL where a pointer was required */
    ML_EBUSY = -16,         /**< resource in use */
    ML_EEXIST = -17,        /**< already exists */
    ML_EINVAL = -22,        /**< invalid argument or input */
    ML_ENOSPC = -28,        /**< caller buffer too small */
    ML_ERANGE = -34,        /**< value out of range */
    ML_ENOSYS = -38,        /**< not supported by this port */
    ML_EMSGSIZE = -90,      /**< message too long */
    ML_EPROTO = -71,        /**< protocol error on the wire */
    ML_ETIMEDOUT = -110,    /**< timed out */
    ML_ECONNREFUSED = -111, /**< peer refused */
};

#ifndef ML_VERIFY
/** Guard against bad input from outside: return @p err when @p cond is false. */
#define ML_VERIFY(cond, err)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            return (err);                                                                          \
        }                                                                                          \
    } while (0)
#endif /* ML_VERIFY */

/**
 * Our own bugs only (never input): calls hal_sys_fault() which breaks into the
 * debugger on the target and abort()s in the sim.
 */
void hal_sys_fault(const char *file, int line);
#define ML_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            hal_sys_fault(__FILE__, __LINE__);                                                     \
        }                                                                                          \
    } while (0)

/** Number of elements of a true array. */
#define ML_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif /* FIRMWARE_CORE_COMMON_ERR_H */
