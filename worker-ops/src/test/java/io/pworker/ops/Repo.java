package io.pworker.ops;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the repository's files are: the tests read the shipped unit, Dockerfile and manifests themselves. */
final class Repo {

    private Repo() {
    }

    static Path root() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("deploy/kubernetes"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("no deploy/kubernetes above " + Path.of("").toAbsolutePath());
        }
        return p;
    }

    static Path distribution() {
        Path d = root().resolve("distribution/target/pworker");
        if (!Files.isExecutable(d.resolve("bin/pworker"))) {
            throw new IllegalStateException("no distribution at " + d + " (the build makes it before these tests)");
        }
        return d;
    }
}
