/* Messages for the EG_* error codes. */
#include "eg/error.h"

const char *eg_strerror(int err) {
  switch (err) {
  case EG_OK:
    return "success";
  case EG_EINVAL:
    return "invalid argument or input";
  case EG_ENOMEM:
    return "out of memory";
  case EG_EIO:
    return "input/output error";
  case EG_ERANGE:
    return "value out of range";
  case EG_ENOENT:
    return "not found";
  case EG_EAUTH:
    return "authentication failed";
  case EG_EPARSE:
    return "parse error";
  case EG_ETOOBIG:
    return "input too large";
  case EG_ETIMEDOUT:
    return "timed out";
  case EG_EAGAIN:
    return "temporary failure";
  case EG_ECRYPTO:
    return "cryptographic operation failed";
  case EG_EEXIST:
    return "already exists";
  case EG_EUNAVAIL:
    return "service unavailable";
  case EG_EPERM:
    return "not permitted";
  default:
    return "unknown error";
  }
}
