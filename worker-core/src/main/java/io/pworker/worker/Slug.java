package io.pworker.worker;

import java.text.Normalizer;
import java.util.Locale;

/** Lower-case slugs as python-slugify makes them by default: runs of other characters become one dash. */
final class Slug {

    private Slug() {
    }

    static String of(String text) {
        String ascii = Normalizer.normalize(text, Normalizer.Form.NFKD).replaceAll("\\p{M}", "");
        String slug = ascii.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-");
        return slug.replaceAll("^-+|-+$", "");
    }
}
