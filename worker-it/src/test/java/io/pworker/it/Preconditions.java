package io.pworker.it;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Assumptions;

/**
 * What these tests do when something they need is missing (the server bundle, root, a Docker engine). In CI
 * (`CI=true`) that is a failure: a green build must mean the checks ran. On a developer's machine the test is
 * skipped, and the reason goes to the console too, because Surefire shows skips only as a count.
 */
final class Preconditions {

    private static final Set<String> PRINTED = ConcurrentHashMap.newKeySet();

    private Preconditions() {
    }

    static boolean ci() {
        return "true".equalsIgnoreCase(System.getenv("CI"));
    }

    /** Returns when {@code unmet} is null; otherwise fails (CI) or skips with that reason. */
    static void require(String unmet) {
        if (unmet == null) {
            return;
        }
        failInCi(unmet);
        if (PRINTED.add(unmet)) {
            System.err.println("[worker-it] SKIPPED (not in CI): " + unmet);
        }
        Assumptions.abort(unmet);
    }

    /**
     * Fails under CI when {@code unmet} is not null; elsewhere returns, and the caller skips later with
     * {@link #require} (a skip in {@code @BeforeAll} would hide the tests from Surefire's count altogether).
     */
    static void failInCi(String unmet) {
        if (unmet != null && ci()) {
            throw new AssertionError("CI=true, so this fails instead of being skipped: " + unmet);
        }
    }

    /** Whether this JVM runs as root, which prefect-ref (chroot, mounts) and a private dockerd need. */
    static boolean root() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return line.split("\\s+")[1].equals("0");
                }
            }
        } catch (java.io.IOException e) {
            // not Linux: fall through
        }
        return "root".equals(System.getProperty("user.name"));
    }
}
