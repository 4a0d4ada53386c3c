package io.pworker.logging;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Replaces the worker's credentials ({@code PREFECT_API_KEY}, {@code PREFECT_API_AUTH_STRING}) wherever they
 * appear in text that leaves the process: log lines and {@code pworker render}. It also knows the forms they take
 * on the wire (the Basic header's base64, JSON escaping). Values shorter than {@link #MIN_LENGTH} are left alone:
 * masking every "ab" in every line would make the log unreadable and hide little.
 */
public final class SecretMask {

    public static final String MASK = "********";
    static final int MIN_LENGTH = 4;
    private static volatile List<String> secrets = List.of();

    private SecretMask() {
    }

    /** Sets the secret values to mask (nulls and blanks ignored); replaces the earlier ones. */
    public static void set(String... values) {
        Set<String> all = new LinkedHashSet<>();
        for (String v : values) {
            if (v == null || v.strip().length() < MIN_LENGTH) {
                continue;
            }
            all.add(v);
            all.add(Base64.getEncoder().encodeToString(v.getBytes(StandardCharsets.UTF_8)));
            all.add(v.replace("\\", "\\\\").replace("\"", "\\\""));
        }
        // longest first, so that a secret containing another is masked whole
        secrets = all.stream().sorted((a, b) -> b.length() - a.length()).toList();
    }

    /** True when some secret is set. */
    public static boolean active() {
        return !secrets.isEmpty();
    }

    public static String mask(String text) {
        if (text == null) {
            return null;
        }
        String out = text;
        for (String secret : secrets) {
            if (out.contains(secret)) {
                out = out.replace(secret, MASK);
            }
        }
        return out;
    }
}
