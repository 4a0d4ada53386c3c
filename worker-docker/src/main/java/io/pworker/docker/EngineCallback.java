package io.pworker.docker;

import com.github.dockerjava.api.async.ResultCallback;
import java.io.Closeable;
import java.io.IOException;

/**
 * A docker-java stream callback that stays closed when it is closed before the engine answered. docker-java's
 * own template forgets such an early close once the answer arrives, which would leave the stream, and the
 * thread reading it, running for nobody.
 */
abstract class EngineCallback<T> extends ResultCallback.Adapter<T> {

    private volatile boolean abandoned;

    @Override
    public void onStart(Closeable connection) {
        super.onStart(connection);
        if (abandoned) {
            DockerConnection.closeQuietly(this);
        }
    }

    @Override
    public void close() throws IOException {
        abandoned = true;
        super.close();
    }
}
