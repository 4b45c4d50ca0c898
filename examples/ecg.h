/* Reader of the electrocardiogram Debian's python3-scipy ships as
 * scipy/misc/ecg.dat (what scipy.misc.electrocardiogram() returns): five
 * minutes of lead MLII of record 208 of the MIT-BIH Arrhythmia Database,
 * sampled at 360 Hz, 108000 samples.  The file is a NumPy .npz archive (a
 * zip) holding one member, ecg.npy: uint16 ADC values, converted to
 * millivolts as scipy does, (v - 1024) / 200.  Read with zlib; every check
 * names the file.  The library never prints and never exits. */
#ifndef ECG_H
#define ECG_H

#include <stddef.h>

#define ECG_DEFAULT_PATH "/usr/lib/python3/dist-packages/scipy/misc/ecg.dat"
#define ECG_RATE 360                /* samples per second */
#define ECG_MAX_FILE (64L << 20)    /* a larger file is rejected */

enum {
    ECG_OK = 0,
    ECG_ERR_OPEN = 1,    /* missing or unreadable */
    ECG_ERR_NOMEM = 2,
    ECG_ERR_FORMAT = 3,  /* not the expected zip/npy layout, or corrupt */
};

/* Reads the recording: *mv gets n malloc'ed samples in millivolts (free()
 * them), *n their count.  On failure *mv is NULL and `msg` (may be NULL)
 * says "path: what is wrong". */
int ecg_load(const char *path, float **mv, int *n, char *msg, size_t msgsize);

#endif
