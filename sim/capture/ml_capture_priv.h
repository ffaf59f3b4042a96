/* Shared by the capture library's own files only. */
#ifndef SIM_CAPTURE_ML_CAPTURE_PRIV_H
#define SIM_CAPTURE_ML_CAPTURE_PRIV_H

#include "ml_capture.h"

/* enum ml_meter_proto of a good telegram (@p verdict ML_CAP_OK or ML_CAP_HISTORIC). */
int ml_capture_proto_of(bool is_tic, int verdict, const struct dsmr_parser *dp,
                        const struct reading *r);

#endif /* SIM_CAPTURE_ML_CAPTURE_PRIV_H */
