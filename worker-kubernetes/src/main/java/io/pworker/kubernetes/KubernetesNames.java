package io.pworker.kubernetes;

import java.text.Normalizer;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Kubernetes' naming rules as prefect-kubernetes applies them (python-slugify with a custom alphabet): text is
 * folded to ASCII and lower-cased, every run of characters outside the alphabet becomes one dash, and the result
 * is cut to the length Kubernetes allows. A label key or value that slugifies to nothing is kept as it was, so
 * that the API server names the problem instead of the worker hiding it.
 */
final class KubernetesNames {

    private static final Pattern NOT_NAME = Pattern.compile("[^a-z0-9-]+");
    private static final Pattern NOT_LABEL = Pattern.compile("[^a-z0-9_.-]+");
    private static final Pattern NOT_PREFIX = Pattern.compile("[^a-z0-9.-]+");

    private KubernetesNames() {
    }

    /** A label (or annotation) key: an optional DNS prefix of up to 253 characters, a slash, a name of up to 63. */
    static String labelKey(String key) {
        int slash = key.indexOf('/');
        String name = slash < 0 ? key : key.substring(slash + 1);
        String nameSlug = orOriginal(trimEnds(slugify(name, NOT_LABEL, 63)), name);
        if (slash < 0) {
            return nameSlug;
        }
        String prefix = key.substring(0, slash);
        if (prefix.isEmpty()) {
            return nameSlug;
        }
        return orOriginal(trimEnds(slugify(prefix, NOT_PREFIX, 253)), prefix) + "/" + nameSlug;
    }

    /** A label value: up to 63 characters of {@code [a-z0-9_.-]}, starting and ending alphanumeric. */
    static String labelValue(String value) {
        return orOriginal(trimEnds(slugify(value, NOT_LABEL, 63)), value);
    }

    /**
     * The stem of a Job's {@code generateName}: 45 characters leave Kubernetes room for its random suffix within
     * the 63 a name may have. Null when nothing is left.
     */
    static String nameStem(String name) {
        String slug = slugify(name, NOT_NAME, 45);
        return slug.isEmpty() ? null : slug;
    }

    static String slugify(String text, Pattern disallowed, int maxLength) {
        String ascii = Normalizer.normalize(text, Normalizer.Form.NFKD).replaceAll("\\p{M}", "");
        String slug = disallowed.matcher(ascii.toLowerCase(Locale.ROOT)).replaceAll("-");
        slug = stripDashes(slug.replaceAll("-{2,}", "-"));
        if (slug.length() > maxLength) {
            slug = stripDashes(slug.substring(0, maxLength));
        }
        return slug;
    }

    private static String stripDashes(String s) {
        return s.replaceAll("^-+|-+$", "");
    }

    /** Label names and values must begin and end with an alphanumeric character. */
    private static String trimEnds(String s) {
        return s.replaceAll("^[_.-]+|[_.-]+$", "");
    }

    private static String orOriginal(String slug, String original) {
        return slug.isEmpty() ? original : slug;
    }
}
