package io.pworker.worker;

import io.pworker.api.ApiException;
import io.pworker.api.Deployment;
import io.pworker.api.Flow;
import io.pworker.api.PrefectObjects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;

/**
 * The deployments and flows that the runs found by one poll need, each read once however many runs share it: 300
 * runs of one deployment cost two reads, not 600. A new instance per poll keeps what is read as fresh as the poll
 * (a deployment deleted or changed is seen by the next poll's runs). Runs that read the same id at the same time
 * wait for the one read in flight; a failed read is not kept, so the next run asks again.
 */
final class PollReads {

    private interface Read<T> {
        T get() throws ApiException, InterruptedException;
    }

    private final PrefectObjects prefect;
    private final boolean shared;
    private final ConcurrentHashMap<String, CompletableFuture<Optional<Deployment>>> deployments = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, CompletableFuture<Optional<Flow>>> flows = new ConcurrentHashMap<>();

    private PollReads(PrefectObjects prefect, boolean shared) {
        this.prefect = prefect;
        this.shared = shared;
    }

    /** Reads shared by the runs of one poll. */
    static PollReads forPoll(PrefectObjects prefect) {
        return new PollReads(prefect, true);
    }

    /** Reads made afresh every time: runs taken over from an earlier worker, one by one. */
    static PollReads direct(PrefectObjects prefect) {
        return new PollReads(prefect, false);
    }

    Optional<Deployment> deployment(String id) throws ApiException, InterruptedException {
        return shared ? once(deployments, id, () -> prefect.deployment(id)) : prefect.deployment(id);
    }

    Optional<Flow> flow(String id) throws ApiException, InterruptedException {
        return shared ? once(flows, id, () -> prefect.flow(id)) : prefect.flow(id);
    }

    private static <T> T once(ConcurrentHashMap<String, CompletableFuture<T>> reads, String id, Read<T> read)
            throws ApiException, InterruptedException {
        CompletableFuture<T> mine = new CompletableFuture<>();
        CompletableFuture<T> inFlight = reads.putIfAbsent(id, mine);
        if (inFlight != null) {
            try {
                return inFlight.get();
            } catch (ExecutionException e) {
                if (e.getCause() instanceof ApiException api) {
                    throw api;
                }
                // the reader was interrupted or failed otherwise: read for this run alone
                return read.get();
            }
        }
        try {
            T value = read.get();
            mine.complete(value);
            return value;
        } catch (ApiException | InterruptedException | RuntimeException e) {
            reads.remove(id, mine);
            mine.completeExceptionally(e);
            throw e;
        }
    }
}
