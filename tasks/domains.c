#include "tasks/domains.h"

#include "tasks/docs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const md_domain_names[MD_DOMAINS] = {"cooking", "astronomy", "sailing"};

#define WORDS(name, ...) static const char *const name[] = {__VA_ARGS__}

// ---------------------------------------------------------------- cooking
WORDS(cook_ingredients, "garlic", "onion", "butter", "flour", "sugar", "pepper", "basil",
      "ginger", "cream", "lemon", "vinegar", "parsley", "thyme", "cinnamon", "broth", "yeast",
      "honey", "mushrooms", "tomatoes", "carrots", "nutmeg", "oregano", "shallots", "paprika");
WORDS(cook_tools, "saucepan", "skillet", "casserole dish", "baking tray", "wok", "mixing bowl",
      "stockpot", "roasting pan");
WORDS(cook_verbs, "simmer", "whisk", "stir", "chop", "roast", "saute", "fry", "boil", "grate",
      "marinate", "drain", "peel", "knead", "braise", "poach");
WORDS(cook_dishes, "soup", "stew", "risotto", "omelette", "pastry", "sauce", "salad", "pie",
      "bread", "curry", "pudding", "dumplings");
WORDS(cook_units, "cups", "teaspoons", "tablespoons", "grams", "ounces", "slices", "cloves");
static const char *const cook_templates[] = {
    "Next, [v] the [i] in a [t] for [n] minutes.",
    "Add two [u] of [i] to the [d] and stir gently.",
    "The chef likes to [v] the [i] before adding the [i2].",
    "This recipe for [d] needs [n] [u] of [i].",
    "Preheat the oven and grease the [t].",
    "Season the [d] with [i] and a pinch of [i2].",
    "Let the [i] simmer in the broth until it is tender.",
    "Whisk the [i] with the [i2] in a mixing bowl.",
    "A good [d] starts with fresh [i].",
    "Serve the [d] with a slice of bread.",
    "The kitchen smelled of [i] and [i2].",
    "Knead the dough for [n] minutes, then let it rise.",
    "Stir the sauce and taste it before serving.",
    "Roast the [i] in the oven until golden.",
    "Chop the [i] finely and fry it in butter.",
    "The cook tasted the [d] and added more [i].",
    "Bake the [d] in the oven for [n] minutes.",
    "Grate some [i] over the [d] just before serving.",
};

// ---------------------------------------------------------------- astronomy
WORDS(astro_bodies, "the comet", "a distant galaxy", "the nebula", "Jupiter", "Saturn", "Mars",
      "Venus", "the asteroid", "a bright quasar", "the red dwarf", "a pulsar", "the moon",
      "Mercury", "Neptune", "a meteor");
WORDS(astro_planets, "Jupiter", "Saturn", "Mars", "Venus", "Mercury", "Neptune", "Uranus");
WORDS(astro_const, "Orion", "Lyra", "Cygnus", "Perseus", "Andromeda", "Cassiopeia", "Draco",
      "Pegasus", "Aquila", "Taurus");
static const char *const astro_templates[] = {
    "The astronomer pointed the telescope at [b] near [c].",
    "On clear nights, [p] is visible low on the horizon.",
    "The orbit of [p] takes [n] years to complete.",
    "A faint nebula glows in the constellation [c].",
    "The eclipse was observed from the observatory.",
    "Astronomers measured the spectrum of [b].",
    "The tail of the comet pointed away from the sun.",
    "Through the telescope, the craters of the moon looked sharp.",
    "A supernova in a distant galaxy was seen through the telescope.",
    "The satellite crossed the sky in [n] minutes.",
    "Gravity keeps [p] in orbit around the sun.",
    "The star cluster in [c] contains [n] stars.",
    "During the equinox, the astronomer recorded the position of [p].",
    "Meteors streak across the sky during the shower in [c].",
    "The telescope revealed [n] moons around [p].",
    "Light from [b] takes thousands of years to reach the observatory.",
    "The planets of the solar system orbit the sun.",
    "The astronomer photographed [b] with a new lens.",
};

// ---------------------------------------------------------------- sailing
WORDS(sail_parts, "mainsail", "jib", "halyard", "tiller", "rudder", "keel", "mast", "hull",
      "boom", "anchor", "spinnaker", "forestay");
WORDS(sail_boats, "yacht", "dinghy", "sloop", "schooner", "catamaran", "ketch");
WORDS(sail_places, "harbor", "marina", "cove", "lighthouse", "estuary", "anchorage");
static const char *const sail_templates[] = {
    "The sailor raised the mainsail and checked the halyard.",
    "The [y] left the [h] at high tide.",
    "Trim the jib as the breeze picks up.",
    "The captain held the tiller steady against the gale.",
    "They dropped anchor in a quiet cove.",
    "The hull of the [y] was painted [col].",
    "Wind filled the sails as the [y] heeled to starboard.",
    "The crew coiled the ropes on the deck.",
    "At the regatta, [n] yachts raced around the buoy.",
    "The keel kept the [y] steady in the swell.",
    "She tied a bowline knot to the mooring.",
    "The [y] sailed at [n] knots toward the lighthouse.",
    "Check the [s] before leaving the marina.",
    "The mast creaked as the waves hit the bow.",
    "Sailors watch the tide tables before each voyage.",
    "The skipper tightened the [s] and steered toward the [h].",
    "A strong gust tore the [s] of the [y].",
    "The [y] tacked twice before reaching the [h].",
};

// The distinctive vocabularies: single words that only domain documents use.
WORDS(cook_vocab, "garlic", "onion", "butter", "flour", "sugar", "pepper", "basil", "ginger",
      "cream", "lemon", "vinegar", "parsley", "thyme", "cinnamon", "broth", "yeast", "honey",
      "mushrooms", "tomatoes", "carrots", "nutmeg", "oregano", "shallots", "paprika",
      "saucepan", "skillet", "casserole", "wok", "stockpot", "simmer", "whisk", "stir", "chop",
      "roast", "saute", "fry", "boil", "grate", "marinate", "drain", "peel", "knead", "braise",
      "poach", "soup", "stew", "risotto", "omelette", "pastry", "sauce", "salad", "pie",
      "bread", "curry", "pudding", "dumplings", "teaspoons", "tablespoons", "cloves", "chef",
      "recipe", "oven", "kitchen", "dough", "cook", "bake", "tender");
WORDS(astro_vocab, "comet", "galaxy", "nebula", "Jupiter", "Saturn", "Mars", "Venus",
      "asteroid", "quasar", "dwarf", "pulsar", "moon", "Mercury", "Neptune", "Uranus", "meteor",
      "Meteors", "Orion", "Lyra", "Cygnus", "Perseus", "Andromeda", "Cassiopeia", "Draco",
      "Pegasus", "Aquila", "Taurus", "astronomer", "Astronomers", "telescope", "orbit",
      "horizon", "constellation", "eclipse", "observatory", "spectrum", "craters", "supernova",
      "satellite", "sky", "Gravity", "sun", "cluster", "stars", "star", "equinox", "moons",
      "planets", "solar", "lens");
WORDS(sail_vocab, "mainsail", "jib", "halyard", "tiller", "rudder", "keel", "mast", "hull",
      "boom", "anchor", "spinnaker", "forestay", "yacht", "yachts", "dinghy", "sloop",
      "schooner", "catamaran", "ketch", "harbor", "marina", "cove", "lighthouse", "estuary",
      "anchorage", "sailor", "Sailors", "breeze", "captain", "gale", "sails", "heeled",
      "starboard", "crew", "deck", "regatta", "buoy", "swell", "bowline", "mooring", "knots",
      "waves", "bow", "tide", "voyage", "skipper", "tacked", "Wind", "gust", "sailed", "knot");

const md_wordlist md_domain_vocab[MD_DOMAINS] = {
    {cook_vocab, MD_COUNT(cook_vocab)},
    {astro_vocab, MD_COUNT(astro_vocab)},
    {sail_vocab, MD_COUNT(sail_vocab)}};

static const char *const colours[] = {"white", "blue", "red", "green", "yellow", "black"};

void md_gen_domain(const md_world *w, int d, md_rng *r, md_buf *out) {
    (void)w;
    int k = md_range(r, 3, 7);
    for (int i = 0; i < k; i++) {
        if (i) md_buf_putc(out, ' ');
        char num[16];
        snprintf(num, sizeof num, "%d", md_range(r, 2, 40));
        if (d == 0) {
            int ing[2];
            md_pick_distinct(r, MD_COUNT(cook_ingredients), 2, ing);
            const md_slot slots[] = {
                {"i", cook_ingredients[ing[0]]}, {"i2", cook_ingredients[ing[1]]},
                {"t", MD_PICK(r, cook_tools)},    {"v", MD_PICK(r, cook_verbs)},
                {"d", MD_PICK(r, cook_dishes)},   {"u", MD_PICK(r, cook_units)},
                {"n", num},
            };
            md_fill(out, MD_PICK(r, cook_templates), slots, MD_COUNT(slots));
        } else if (d == 1) {
            const md_slot slots[] = {
                {"b", MD_PICK(r, astro_bodies)}, {"p", MD_PICK(r, astro_planets)},
                {"c", MD_PICK(r, astro_const)},  {"n", num},
            };
            md_fill(out, MD_PICK(r, astro_templates), slots, MD_COUNT(slots));
        } else {
            const md_slot slots[] = {
                {"s", MD_PICK(r, sail_parts)}, {"y", MD_PICK(r, sail_boats)},
                {"h", MD_PICK(r, sail_places)}, {"col", MD_PICK(r, colours)},
                {"n", num},
            };
            md_fill(out, MD_PICK(r, sail_templates), slots, MD_COUNT(slots));
        }
    }
}

bool md_domain_word(const char *word, size_t len) {
    for (int d = 0; d < MD_DOMAINS; d++)
        for (int i = 0; i < md_domain_vocab[d].n; i++) {
            const char *v = md_domain_vocab[d].words[i];
            if (strlen(v) == len && strncasecmp(v, word, len) == 0) return true;
        }
    return false;
}

enum { STREAM_DOMAIN_SPLITS = 0x901 };

int md_domain_split_docs(const md_world *w, int d, const int64_t n[3], char **docs[3],
                         md_error *err) {
    md_hashset seen = {0};
    md_buf b = {0};
    for (int s = 0; s < 3; s++) docs[s] = NULL;
    // Test first, then validation, then train: a duplicate is dropped from the later
    // split, so the evaluation splits never depend on the train size.
    static const int order[3] = {2, 1, 0};
    uint64_t kind = (uint64_t)(STREAM_DOMAIN_SPLITS + (d + 1));
    for (int oi = 0; oi < 3; oi++) {
        int s = order[oi];
        docs[s] = calloc((size_t)(n[s] ? n[s] : 1), sizeof(char *));
        if (!docs[s]) goto oom;
        int64_t made = 0;
        for (uint64_t i = 0; made < n[s]; i++) {
            if (i > (uint64_t)n[s] * 100 + 1000) {
                md_errorf(err, "%s documents: too many duplicates for %lld distinct documents",
                          d == MD_UNRELATED ? "unrelated" : md_domain_names[d], (long long)n[s]);
                goto fail;
            }
            md_rng r = md_rng_init(w->seed, (kind << 40) ^ ((uint64_t)s << 36) ^ i);
            md_buf_clear(&b);
            if (d == MD_UNRELATED) {
                if (md_chance(&r, 0.5))
                    md_gen_filler(w, &r, &b);
                else
                    md_gen_narrative(w, &r, &b);
            } else {
                md_gen_domain(w, d, &r, &b);
            }
            if (!md_hashset_add(&seen, md_hash_bytes(b.data, b.len))) continue;
            docs[s][made++] = md_buf_strdup(&b);
        }
    }
    md_hashset_free(&seen);
    md_buf_free(&b);
    return 0;
oom:
    md_errorf(err, "documents: out of memory");
fail:
    for (int s = 0; s < 3; s++) {
        md_docs_free(docs[s], n[s]);
        docs[s] = NULL;
    }
    md_hashset_free(&seen);
    md_buf_free(&b);
    return -1;
}

void md_docs_free(char **docs, int64_t n) {
    if (!docs) return;
    for (int64_t i = 0; i < n; i++) free(docs[i]);
    free(docs);
}
