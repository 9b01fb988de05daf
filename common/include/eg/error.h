/* Error codes shared by every common/ module, and their messages.
 * Fallible functions return EG_OK or one negative EG_E* code. */
#ifndef EG_ERROR_H
#define EG_ERROR_H

/* Callers keep error text in a stack buffer of this size. */
#define EG_ERRBUF_LEN 256

enum eg_error {
  EG_OK = 0,
  EG_EINVAL = -1000,    /* bad argument or malformed input */
  EG_ENOMEM = -1001,    /* allocation failed */
  EG_EIO = -1002,       /* a read, write or system call failed */
  EG_ERANGE = -1003,    /* a number or length is outside its bounds */
  EG_ENOENT = -1004,    /* a file, key or field does not exist */
  EG_EAUTH = -1005,     /* a signature or credential did not verify */
  EG_EPARSE = -1006,    /* JSON or text could not be parsed */
  EG_ETOOBIG = -1007,   /* input over its size limit */
  EG_ETIMEDOUT = -1008, /* a deadline passed */
  EG_EAGAIN = -1009,    /* temporary failure: try again later */
  EG_ECRYPTO = -1010,   /* OpenSSL failed */
  EG_EEXIST = -1011,    /* already exists or already done */
  EG_EUNAVAIL = -1012,  /* a dependency (Kafka, Redis, GitHub) is unavailable */
  EG_EPERM = -1013      /* refused: not allowed */
};

/* Returns a static, never-NULL description of an EG_* code. */
const char *eg_strerror(int err);

#endif /* EG_ERROR_H */
