/* status.c - status codes as text. See LICENSE. */
#include "tapegrad.h"

const char *tg_status_str(tg_status status)
{
    switch (status) {
    case TG_OK: return "ok";
    case TG_ERR_NOMEM: return "out of memory";
    case TG_ERR_ARG: return "bad argument";
    case TG_ERR_SHAPE: return "shape mismatch";
    case TG_ERR_TAPE: return "operands from different tapes";
    case TG_ERR_STALE: return "stale handle (from before tg_tape_reset)";
    case TG_ERR_UNKNOWN_OP: return "unknown op";
    case TG_ERR_UNSUPPORTED: return "unsupported by the op";
    case TG_ERR_DOMAIN: return "NaN or Inf produced";
    case TG_ERR_PARSE: return "parse error";
    case TG_ERR_COMPILE: return "compile error";
    default: return "unknown status";
    }
}
