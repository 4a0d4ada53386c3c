package io.pworker.template;

import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The placeholder syntax of Prefect's templates and the helpers shared by the rendering stages. */
final class Placeholders {

    /** {@code {{ name }}}; the name allows word characters, dots, dashes, brackets and {@code $}. */
    static final Pattern PLACEHOLDER = Pattern.compile("\\{\\{\\s*([\\w.\\-\\[\\]$]+)\\s*}}");
    static final String BLOCKS = "prefect.blocks.";
    static final String VARIABLES = "prefect.variables.";

    enum Kind { STANDARD, ENV, BLOCK, VARIABLE }

    private Placeholders() {
    }

    static Kind kind(String name) {
        if (name.startsWith(BLOCKS)) {
            return Kind.BLOCK;
        }
        if (name.startsWith(VARIABLES)) {
            return Kind.VARIABLE;
        }
        if (name.startsWith("$")) {
            return Kind.ENV;
        }
        return Kind.STANDARD;
    }

    /** The placeholder name when the whole string is exactly one placeholder, else null. */
    static String whole(String text) {
        Matcher m = PLACEHOLDER.matcher(text);
        return m.matches() ? m.group(1) : null;
    }

    /**
     * Follows a key path such as {@code a.b[0].c} into a value; null when any step is missing (Prefect's
     * "NotSet"), which differs from a present JSON null.
     */
    static JsonNode lookup(JsonNode root, String path) {
        JsonNode current = root;
        for (Object step : steps(path)) {
            if (current == null) {
                return null;
            }
            if (step instanceof Integer index) {
                current = current.isArray() && index < current.size() ? current.get(index) : null;
            } else {
                current = current.isObject() ? current.get((String) step) : null;
            }
        }
        return current;
    }

    static List<Object> steps(String path) {
        List<Object> steps = new ArrayList<>();
        for (String part : path.replace("[", ".").replace("]", "").split("\\.")) {
            if (part.isEmpty()) {
                continue;
            }
            if (part.chars().allMatch(Character::isDigit)) {
                steps.add(Integer.parseInt(part));
            } else {
                steps.add(part);
            }
        }
        return steps;
    }

    /**
     * The text a value becomes inside a longer string. Scalars follow Python's {@code str()} so users see
     * what Prefect's worker would produce ({@code True}, {@code None}, {@code 1.0}). Lists and objects become
     * compact JSON: Prefect writes Python reprs ({@code ['a']}) there, which no program can read back.
     */
    static String text(JsonNode value) {
        if (value == null || value.isNull()) {
            return "None";
        }
        if (value.isTextual()) {
            return value.asText();
        }
        if (value.isBoolean()) {
            return value.asBoolean() ? "True" : "False";
        }
        if (value.isIntegralNumber()) {
            return value.bigIntegerValue().toString();
        }
        if (value.isNumber()) {
            return pythonFloat(value.doubleValue());
        }
        return value.toString();
    }

    /** Python's repr of a float: shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
    static String pythonFloat(double d) {
        if (Double.isNaN(d)) {
            return "nan";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "inf" : "-inf";
        }
        if (d == 0) {
            return (1 / d < 0) ? "-0.0" : "0.0";
        }
        BigDecimal bd = new BigDecimal(Double.toString(d)).stripTrailingZeros();
        String digits = bd.unscaledValue().abs().toString();
        int exponent = digits.length() - 1 - bd.scale();
        String sign = d < 0 ? "-" : "";
        if (exponent < -4 || exponent >= 16) {
            String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
            return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + String.format("%02d", Math.abs(exponent));
        }
        String plain = bd.abs().toPlainString();
        return sign + (plain.contains(".") ? plain : plain + ".0");
    }
}
