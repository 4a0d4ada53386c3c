package io.pworker.cloudrun;

import com.google.cloud.run.v2.Container;
import java.time.Duration;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * Runs an execution's task without a container: it ends with {@code FAKE_EXIT} (default 0) after
 * {@code FAKE_SECONDS} (default at once; negative: until stopped) from the container's environment.
 */
final class InMemoryRunner implements FakeCloudRun.Runner {

    @Override
    public FakeCloudRun.RunningTask start(String execution, Container container, IntConsumer onExit) {
        Map<String, String> env = FakeCloudRun.environment(container);
        int code = Integer.parseInt(env.getOrDefault("FAKE_EXIT", "0"));
        double seconds = Double.parseDouble(env.getOrDefault("FAKE_SECONDS", "0"));
        Thread task = Thread.ofVirtual().name("fake-task-" + execution).start(() -> {
            try {
                Thread.sleep(seconds < 0 ? Duration.ofDays(1) : Duration.ofMillis(Math.round(seconds * 1000)));
                onExit.accept(code);
            } catch (InterruptedException e) {
                onExit.accept(143);
            }
        });
        return () -> {
            task.interrupt();
            try {
                task.join(Duration.ofSeconds(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
    }
}
