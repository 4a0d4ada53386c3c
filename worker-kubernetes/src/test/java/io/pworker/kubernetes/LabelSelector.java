package io.pworker.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/** Kubernetes' equality-based label selectors ({@code a}, {@code a=b}, {@code a==b}, {@code a!=b}, {@code !a}), comma-separated. */
record LabelSelector(List<String[]> terms) {

    static LabelSelector parse(String selector) {
        List<String[]> terms = new ArrayList<>();
        if (selector != null && !selector.isBlank()) {
            for (String term : selector.split(",")) {
                String t = term.strip();
                if (t.contains("!=")) {
                    terms.add(new String[] {"!=", t.substring(0, t.indexOf("!=")), t.substring(t.indexOf("!=") + 2)});
                } else if (t.contains("==")) {
                    terms.add(new String[] {"=", t.substring(0, t.indexOf("==")), t.substring(t.indexOf("==") + 2)});
                } else if (t.contains("=")) {
                    terms.add(new String[] {"=", t.substring(0, t.indexOf('=')), t.substring(t.indexOf('=') + 1)});
                } else if (t.startsWith("!")) {
                    terms.add(new String[] {"!", t.substring(1), null});
                } else {
                    terms.add(new String[] {"exists", t, null});
                }
            }
        }
        return new LabelSelector(terms);
    }

    boolean matches(JsonNode labels) {
        for (String[] t : terms) {
            JsonNode v = labels == null ? null : labels.get(t[1]);
            boolean ok = switch (t[0]) {
                case "=" -> v != null && v.asText().equals(t[2]);
                case "!=" -> v == null || !v.asText().equals(t[2]);
                case "!" -> v == null;
                default -> v != null;
            };
            if (!ok) {
                return false;
            }
        }
        return true;
    }
}
