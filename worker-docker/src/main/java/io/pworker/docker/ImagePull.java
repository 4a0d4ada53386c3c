package io.pworker.docker;

import static io.pworker.docker.DockerConnection.closeQuietly;
import static io.pworker.docker.DockerConnection.rootMessage;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.async.ResultCallback;
import com.github.dockerjava.api.command.PullImageCmd;
import com.github.dockerjava.api.exception.DockerClientException;
import com.github.dockerjava.api.exception.NotFoundException;
import com.github.dockerjava.api.model.AuthConfig;
import com.github.dockerjava.api.model.PullResponseItem;
import io.pworker.spi.LaunchException;
import io.pworker.spi.RunLog;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Makes a run's image present on the engine according to its pull policy, with the run's registry credentials.
 * A pull can take minutes, so it stops as soon as the launching thread is interrupted.
 */
final class ImagePull {

    private static final Duration PULL_TIMEOUT = Duration.ofMinutes(10);

    private final DockerConnection engine;

    ImagePull(DockerConnection engine) {
        this.engine = engine;
    }

    /**
     * Pulls when the policy asks for it.
     *
     * @throws LaunchException naming the image and the engine's or registry's reason
     * @throws InterruptedException when interrupted; the pull's connection is closed by then
     */
    void ensure(DockerJobConfiguration config, RunLog log) throws LaunchException, InterruptedException {
        String policy = config.effectivePullPolicy();
        if (policy.equals("Never")) {
            return;
        }
        if (policy.equals("IfNotPresent") && present(config.image())) {
            return;
        }
        log.info("Pulling image '" + config.image() + "'");
        Throwable failure = pull(config);
        if (failure == null) {
            return;
        }
        if (policy.equals("IfPossible") && present(config.image())) {
            log.warn("Could not pull image '" + config.image() + "' (" + rootMessage(failure) + "); using the local copy");
            return;
        }
        throw new LaunchException("cannot pull image '" + config.image() + "': " + rootMessage(failure), failure);
    }

    /**
     * Pulls the image; returns why it failed, or null. The pull runs on a client of its own: the engine sends
     * nothing until the registry answers, so closing that client is the only way to stop a pull that hangs on its
     * registry.
     */
    private Throwable pull(DockerJobConfiguration config) throws InterruptedException {
        ImageName image = ImageName.parse(config.image());
        DockerClient own = engine.openPrivate();
        Progress progress = new Progress();
        try {
            PullImageCmd pull = own.pullImageCmd(image.repository()).withTag(image.reference());
            DockerJobConfiguration.RegistryCredentials creds = config.registryCredentials();
            if (creds != null) {
                AuthConfig auth = new AuthConfig().withUsername(creds.username()).withPassword(creds.password());
                if (creds.registryUrl() != null) {
                    auth.withRegistryAddress(creds.registryUrl());
                }
                pull.withAuthConfig(auth);
            }
            pull.exec(progress);
            progress.done.get(PULL_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            return null;
        } catch (TimeoutException e) {
            return new TimeoutException("the pull took longer than " + PULL_TIMEOUT.toMinutes() + " minutes");
        } catch (ExecutionException e) {
            return e.getCause();
        } catch (RuntimeException e) {
            return e;
        } finally {
            closeQuietly(progress);
            closeQuietly(own);
        }
    }

    private boolean present(String image) throws LaunchException, InterruptedException {
        try {
            engine.client().inspectImageCmd(image).exec();
            return true;
        } catch (NotFoundException e) {
            return false;
        } catch (RuntimeException e) {
            if (Thread.interrupted()) {
                throw new InterruptedException("interrupted while looking for image '" + image + "'");
            }
            throw new LaunchException("cannot look for image '" + image + "' on the Docker engine: " + rootMessage(e), e);
        }
    }

    /** A pull as a future: the engine reports failures as error items in the progress stream, or as an HTTP error. */
    private static final class Progress extends ResultCallback.Adapter<PullResponseItem> {
        final CompletableFuture<Void> done = new CompletableFuture<>();
        private volatile String error;

        @Override
        public void onNext(PullResponseItem item) {
            if (item.isErrorIndicated()) {
                error = item.getErrorDetail() != null && item.getErrorDetail().getMessage() != null
                        ? item.getErrorDetail().getMessage() : item.getError();
            }
        }

        @Override
        public void onError(Throwable failure) {
            // reported by the waiting launch; docker-java's default would log it as an error of its own
            done.completeExceptionally(failure);
            closeQuietly(this);
        }

        @Override
        public void onComplete() {
            if (error != null) {
                done.completeExceptionally(new DockerClientException(error));
            } else {
                done.complete(null);
            }
            super.onComplete();
        }
    }
}
