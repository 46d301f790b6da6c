/* svk_diff.c - placeholder replaced below */
#include "svk.h"
int svk_diff(svk_env_t *env, svk_why_t *why)
{
    (void)env;
    svk_why_str(why, "not yet");
    return SVK_SKIP;
}
