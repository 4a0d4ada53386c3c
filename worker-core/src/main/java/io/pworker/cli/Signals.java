package io.pworker.cli;

import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * SIGTERM and SIGINT handling as Prefect's worker does it: the first one stops gracefully (and the process
 * exits 0, which a JVM shutdown hook could not give: the JVM would exit 143), a second one exits at once.
 */
final class Signals {

    private Signals() {
    }

    static void onStop(Runnable graceful) {
        AtomicInteger count = new AtomicInteger();
        for (String name : new String[] {"TERM", "INT"}) {
            Signal.handle(new Signal(name), sig -> {
                if (count.incrementAndGet() == 1) {
                    LoggerFactory.getLogger(Signals.class).info("Received SIG{}; stopping gracefully "
                            + "(send it again to exit at once)", sig.getName());
                    Thread.ofPlatform().name("pworker-stop").start(graceful);
                } else {
                    Runtime.getRuntime().halt(130);
                }
            });
        }
    }
}
