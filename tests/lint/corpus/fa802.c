/* FA802: a tag used in a module the config assigns to another subsystem
 * (this file is "audio"'s in fa802.toml). */
#include <framealloc.h>

#define RENDER_SCOPE(fa) FA_TAG_SCOPE((fa), "render")

static void mix(fa_alloc_t *fa) {
    FA_TAG_SCOPE(fa, "render/mixer"); /* expect: FA802 cross */
}

void audio_frame(fa_alloc_t *fa) {
    FA_TAG_SCOPE(fa, "audio"); /* ok: FA802 */
    FA_TAG_SCOPE(fa, "mixer"); /* ok: FA802 */
    mix(fa);
}

void wrong(fa_alloc_t *fa) {
    {
        FA_TAG_SCOPE(fa, "physics"); /* expect: FA802 */
    }
    RENDER_SCOPE(fa); /* expect: FA802 macro */
}

void voices(fa_alloc_t *fa) {
    if (fa_tag_push(fa, "audio/voices") >= 0) fa_tag_pop(fa); /* ok: FA802 */
}
