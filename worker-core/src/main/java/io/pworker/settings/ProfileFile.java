package io.pworker.settings;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the active profile of Prefect's {@code profiles.toml}. Only the subset Prefect writes is understood:
 * a top-level {@code active = "name"} and {@code [profiles.<name>]} tables of {@code KEY = value} lines.
 * A full TOML parser would be a dependency for a file nobody writes by hand in other shapes.
 */
public final class ProfileFile {

    private ProfileFile() {
    }

    /**
     * Settings of the active profile; {@code PREFECT_PROFILE} in the environment overrides {@code active}.
     * A missing file yields an empty map; a malformed line is reported with its number.
     */
    public static Map<String, String> activeProfile(Path file, String profileOverride) throws SettingsException {
        if (!Files.isRegularFile(file)) {
            return Map.of();
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new SettingsException("cannot read Prefect profiles file " + file + ": " + e.getMessage(), e);
        }
        String active = null;
        Map<String, Map<String, String>> profiles = new HashMap<>();
        Map<String, String> current = null;
        boolean inProfiles = false;
        for (int i = 0; i < lines.size(); i++) {
            String line = stripComment(lines.get(i)).strip();
            if (line.isEmpty()) {
                continue;
            }
            if (line.startsWith("[")) {
                if (!line.endsWith("]")) {
                    throw malformed(file, i, "unterminated table header");
                }
                String table = line.substring(1, line.length() - 1).strip();
                if (table.startsWith("profiles.")) {
                    String name = unquote(table.substring("profiles.".length()).strip());
                    current = profiles.computeIfAbsent(name, k -> new LinkedHashMap<>());
                    inProfiles = true;
                } else {
                    current = null;
                    inProfiles = false;
                }
                continue;
            }
            int eq = line.indexOf('=');
            if (eq <= 0) {
                throw malformed(file, i, "expected KEY = value");
            }
            String key = unquote(line.substring(0, eq).strip());
            String value = parseValue(line.substring(eq + 1).strip(), file, i);
            if (!inProfiles && current == null && key.equals("active")) {
                active = value;
            } else if (current != null) {
                current.put(key, value);
            }
        }
        String name = profileOverride != null && !profileOverride.isBlank() ? profileOverride : active;
        if (name == null) {
            return Map.of();
        }
        return Map.copyOf(profiles.getOrDefault(name, Map.of()));
    }

    private static String stripComment(String line) {
        boolean inString = false;
        char quote = 0;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (inString) {
                if (c == '\\' && quote == '"') {
                    i++;
                } else if (c == quote) {
                    inString = false;
                }
            } else if (c == '"' || c == '\'') {
                inString = true;
                quote = c;
            } else if (c == '#') {
                return line.substring(0, i);
            }
        }
        return line;
    }

    private static String parseValue(String raw, Path file, int line) throws SettingsException {
        if (raw.startsWith("\"")) {
            if (raw.length() < 2 || !raw.endsWith("\"")) {
                throw malformed(file, line, "unterminated string");
            }
            StringBuilder out = new StringBuilder();
            for (int i = 1; i < raw.length() - 1; i++) {
                char c = raw.charAt(i);
                if (c == '\\' && i + 1 < raw.length() - 1) {
                    char n = raw.charAt(++i);
                    switch (n) {
                        case 'n' -> out.append('\n');
                        case 't' -> out.append('\t');
                        case '"' -> out.append('"');
                        case '\\' -> out.append('\\');
                        default -> out.append('\\').append(n);
                    }
                } else {
                    out.append(c);
                }
            }
            return out.toString();
        }
        if (raw.startsWith("'")) {
            if (raw.length() < 2 || !raw.endsWith("'")) {
                throw malformed(file, line, "unterminated string");
            }
            return raw.substring(1, raw.length() - 1);
        }
        // numbers and booleans are kept as their text; settings parse them by type
        return raw;
    }

    private static String unquote(String s) {
        if (s.length() >= 2 && (s.startsWith("\"") && s.endsWith("\"") || s.startsWith("'") && s.endsWith("'"))) {
            return s.substring(1, s.length() - 1);
        }
        return s;
    }

    private static SettingsException malformed(Path file, int line, String what) {
        return new SettingsException("malformed Prefect profiles file " + file + " line " + (line + 1) + ": " + what);
    }
}
