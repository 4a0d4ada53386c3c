package io.pworker.docker;

import static io.pworker.docker.DockerConnection.closeQuietly;
import static io.pworker.docker.DockerConnection.rootMessage;

import com.github.dockerjava.api.model.Frame;
import com.github.dockerjava.api.model.StreamType;
import io.pworker.spi.InfrastructureException;
import java.io.Closeable;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Copies a container's stdout and stderr to the console ({@code stream_output}), whole lines only, each prefixed
 * with the container's name. The two streams arrive as separate frames in any order, so each keeps its own
 * unfinished line. Attached before the container starts, as {@code docker run} does, so no output is lost; one
 * docker-java thread per container while it runs; its callbacks all come from that thread.
 */
final class OutputPrinter extends EngineCallback<Frame> {

    private static final Duration ATTACH_TIMEOUT = Duration.ofSeconds(30);

    private final String prefix;
    private final PrintStream console;
    private final Map<StreamType, StringBuilder> partial = new EnumMap<>(StreamType.class);
    private final CompletableFuture<Void> attached = new CompletableFuture<>();
    private final CompletableFuture<Void> finished = new CompletableFuture<>();

    OutputPrinter(String name, PrintStream console) {
        this.prefix = "[" + name + "] ";
        this.console = console;
    }

    /** Completes when the container's output has ended and every line is printed. */
    CompletableFuture<Void> finished() {
        return finished;
    }

    /** Blocks until the engine has taken the attach request, so that the container may be started. */
    void awaitAttached(String containerId) throws InfrastructureException, InterruptedException {
        try {
            attached.get(ATTACH_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new InfrastructureException("cannot follow the output of container " + containerId + ": "
                    + rootMessage(e.getCause()), e.getCause());
        } catch (TimeoutException e) {
            throw new InfrastructureException("the engine did not answer within " + ATTACH_TIMEOUT.toSeconds()
                    + " s when asked for the output of container " + containerId);
        }
    }

    @Override
    public void onStart(Closeable stream) {
        super.onStart(stream);
        attached.complete(null);
    }

    @Override
    public void onNext(Frame frame) {
        StringBuilder line = partial.computeIfAbsent(frame.getStreamType(), k -> new StringBuilder());
        line.append(new String(frame.getPayload(), StandardCharsets.UTF_8));
        int nl;
        while ((nl = line.indexOf("\n")) >= 0) {
            console.println(prefix + line.substring(0, nl));
            line.delete(0, nl + 1);
        }
    }

    @Override
    public void onComplete() {
        flush();
        super.onComplete();
        finished.complete(null);
    }

    @Override
    public void onError(Throwable error) {
        // the engine may end the stream without its closing chunk; keep what arrived
        flush();
        attached.completeExceptionally(error);
        finished.complete(null);
        closeQuietly(this);
    }

    @Override
    public void close() throws java.io.IOException {
        super.close();
        finished.complete(null);
    }

    private void flush() {
        partial.values().forEach(line -> {
            if (!line.isEmpty()) {
                console.println(prefix + line);
                line.setLength(0);
            }
        });
    }
}
