package io.pworker.kubernetes;

import com.google.gson.reflect.TypeToken;
import io.kubernetes.client.common.KubernetesObject;
import io.kubernetes.client.openapi.ApiException;
import io.kubernetes.client.openapi.models.V1Job;
import io.kubernetes.client.openapi.models.V1JobList;
import io.kubernetes.client.openapi.models.V1Pod;
import io.kubernetes.client.openapi.models.V1PodList;
import io.kubernetes.client.util.Watch;
import io.pworker.spi.InfrastructureEvent;
import io.pworker.spi.Phase;
import io.pworker.spi.PhaseSink;
import java.lang.reflect.Type;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import okhttp3.Call;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One watch over a namespace's flow-run Jobs and their pods (everything labelled {@code prefect.io/flow-run-id}),
 * shared by every run the launcher observes there: two streams, two threads, however many runs. Each stream lists,
 * then watches from the list's resourceVersion with bookmarks, resumes from the last version it saw when the
 * connection ends, and lists again when the server answers 410 Gone. From the cached objects it works out each
 * subscribed run's phase and reports changes.
 *
 * <p>All state is guarded by {@code this}; sinks are called outside the lock.
 */
final class NamespaceWatch implements AutoCloseable {

    static final String RUN_LABEL = "prefect.io/flow-run-id";
    private static final Logger LOG = LoggerFactory.getLogger(NamespaceWatch.class);
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(30);

    private final Cluster cluster;
    private final String namespace;
    private final Duration giveUpAfter;
    private final LogTails logTails;
    private final Map<String, V1Job> jobs = new HashMap<>();
    private final Map<String, V1Pod> pods = new HashMap<>();
    /** Jobs seen and then deleted (or missing from a later list), with their last state. */
    private final Map<String, V1Job> deleted = new HashMap<>();
    private final Map<String, List<Subscription>> subscriptions = new HashMap<>();
    private final List<Watch<?>> open = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();
    private boolean jobsListed;
    private boolean podsListed;
    private boolean closed;

    /** One run being observed; {@code last} is what its sink was told last. */
    private static final class Subscription {
        final String job;
        final PhaseSink sink;
        final long since = System.nanoTime();
        Phase last;
        /** The flow-run container ran at some point (so a later Pending is Kubernetes retrying, not a stuck start). */
        boolean started;
        /** Per pod uid, the state its last event was sent for. */
        final Map<String, String> podEvents = new HashMap<>();

        Subscription(String job, PhaseSink sink) {
            this.job = job;
            this.sink = sink;
        }
    }

    /**
     * A change to tell a sink about, decided under the lock and delivered after it: pod events, then the phase
     * (null when only a pod changed in a way the phase does not show, such as a restart).
     */
    private record Report(Subscription to, List<InfrastructureEvent> events, Phase phase, V1Job job, V1Pod pod) {
    }

    NamespaceWatch(Cluster cluster, String namespace, Duration giveUpAfter, LogTails logTails) {
        this.cluster = cluster;
        this.namespace = namespace;
        this.giveUpAfter = giveUpAfter;
        this.logTails = logTails;
    }

    void start() {
        Type jobEvents = new TypeToken<Watch.Response<V1Job>>() { }.getType();
        Type podEvents = new TypeToken<Watch.Response<V1Pod>>() { }.getType();
        Stream<V1Job> jobStream = new Stream<>("jobs", jobEvents) {
            @Override
            Listing<V1Job> list() throws ApiException {
                V1JobList l = cluster.batch().listNamespacedJob(namespace).labelSelector(RUN_LABEL).execute();
                return new Listing<>(l.getItems(), l.getMetadata().getResourceVersion());
            }

            @Override
            Call watch(String resourceVersion) throws ApiException {
                return new io.kubernetes.client.openapi.apis.BatchV1Api(cluster.watches()).listNamespacedJob(namespace)
                        .labelSelector(RUN_LABEL).watch(true).allowWatchBookmarks(true).resourceVersion(resourceVersion)
                        .timeoutSeconds((int) ClusterAccess.WATCH_TIMEOUT.toSeconds()).buildCall(null);
            }

            @Override
            void listed(List<V1Job> items, long startedAt) {
                jobsListed(items, startedAt);
            }

            @Override
            void changed(String type, V1Job job) {
                jobChanged(type, job);
            }
        };
        Stream<V1Pod> podStream = new Stream<>("pods", podEvents) {
            @Override
            Listing<V1Pod> list() throws ApiException {
                V1PodList l = cluster.core().listNamespacedPod(namespace).labelSelector(RUN_LABEL).execute();
                return new Listing<>(l.getItems(), l.getMetadata().getResourceVersion());
            }

            @Override
            Call watch(String resourceVersion) throws ApiException {
                return new io.kubernetes.client.openapi.apis.CoreV1Api(cluster.watches()).listNamespacedPod(namespace)
                        .labelSelector(RUN_LABEL).watch(true).allowWatchBookmarks(true).resourceVersion(resourceVersion)
                        .timeoutSeconds((int) ClusterAccess.WATCH_TIMEOUT.toSeconds()).buildCall(null);
            }

            @Override
            void listed(List<V1Pod> items, long startedAt) {
                podsListed(items);
            }

            @Override
            void changed(String type, V1Pod pod) {
                podChanged(type, pod);
            }
        };
        synchronized (this) {
            threads.add(Thread.ofVirtual().name("k8s-watch-jobs-" + namespace).start(jobStream::run));
            threads.add(Thread.ofVirtual().name("k8s-watch-pods-" + namespace).start(podStream::run));
        }
    }

    /**
     * Observes one Job. The caller has checked that the Job exists, so a Job this watch never sees is one it has
     * not caught up with yet, unless a later list proves it gone.
     *
     * @param startBy when the Job's pod must have started (its creation plus {@code pod_watch_timeout_seconds}),
     *                or null to wait as long as it takes. A pod still pending then is given up: its Job is deleted,
     *                so that it cannot start after its run was reported crashed
     */
    io.pworker.spi.Watch subscribe(String job, PhaseSink sink, Instant startBy) {
        Subscription s = new Subscription(job, sink);
        List<Report> reports = new ArrayList<>();
        synchronized (this) {
            subscriptions.computeIfAbsent(job, k -> new ArrayList<>()).add(s);
            evaluate(s, reports);
        }
        deliver(reports);
        if (startBy != null) {
            Thread.ofVirtual().name("k8s-start-deadline-" + job).start(() -> enforceStart(s, startBy));
        }
        return () -> unsubscribe(s);
    }

    private void enforceStart(Subscription s, Instant startBy) {
        try {
            Thread.sleep(Duration.between(Instant.now(), startBy).plusMillis(1).toMillis() > 0
                    ? Duration.between(Instant.now(), startBy) : Duration.ZERO);
        } catch (InterruptedException e) {
            return;
        }
        Phase gone;
        synchronized (this) {
            boolean subscribed = subscriptions.getOrDefault(s.job, List.of()).contains(s);
            if (!subscribed || s.started || (s.last != null && s.last.terminal())) {
                return;
            }
            String detail = s.last instanceof Phase.Pending p && p.detail() != null ? p.detail() + " " : "";
            gone = new Phase.Gone(detail + "The pod did not start within pod_watch_timeout_seconds; the worker deleted "
                    + "Kubernetes job " + namespace + "/" + s.job + ".");
            s.last = gone;
        }
        try {
            cluster.calls().execute(cluster.batch().deleteNamespacedJob(s.job, namespace).propagationPolicy("Foreground")
                    .gracePeriodSeconds(0).buildCall(null));
        } catch (ApiException | RuntimeException e) {
            LOG.warn("Could not delete Kubernetes job {}/{} whose pod never started: {}", namespace, s.job,
                    e instanceof ApiException a ? KubernetesErrors.message(a) : e.toString());
        }
        s.sink.report(gone);
    }

    private synchronized void unsubscribe(Subscription s) {
        List<Subscription> list = subscriptions.get(s.job);
        if (list != null) {
            list.remove(s);
            if (list.isEmpty()) {
                subscriptions.remove(s.job);
            }
        }
    }

    synchronized int subscribers() {
        return subscriptions.values().stream().mapToInt(List::size).sum();
    }

    private void jobsListed(List<V1Job> items, long startedAt) {
        List<Report> reports = new ArrayList<>();
        synchronized (this) {
            Map<String, V1Job> before = new HashMap<>(jobs);
            jobs.clear();
            items.forEach(j -> jobs.put(j.getMetadata().getName(), j));
            before.forEach((name, job) -> {
                if (!jobs.containsKey(name)) {
                    deleted.put(name, job);
                }
            });
            // a run subscribed before this list began whose Job is not in it was deleted while nobody watched
            subscriptions.forEach((name, subs) -> {
                if (!jobs.containsKey(name) && !deleted.containsKey(name)
                        && subs.stream().anyMatch(s -> s.since < startedAt)) {
                    deleted.put(name, null);
                }
            });
            jobsListed = true;
            subscriptions.values().forEach(subs -> subs.forEach(s -> evaluate(s, reports)));
        }
        deliver(reports);
    }

    private void jobChanged(String type, V1Job job) {
        String name = job.getMetadata().getName();
        List<Report> reports = new ArrayList<>();
        synchronized (this) {
            if ("DELETED".equals(type)) {
                jobs.remove(name);
                deleted.put(name, job);
            } else {
                jobs.put(name, job);
                deleted.remove(name);
            }
            subscriptions.getOrDefault(name, List.of()).forEach(s -> evaluate(s, reports));
        }
        deliver(reports);
    }

    private void podsListed(List<V1Pod> items) {
        List<Report> reports = new ArrayList<>();
        synchronized (this) {
            pods.clear();
            items.forEach(p -> pods.put(p.getMetadata().getName(), p));
            podsListed = true;
            subscriptions.values().forEach(subs -> subs.forEach(s -> evaluate(s, reports)));
        }
        deliver(reports);
    }

    private void podChanged(String type, V1Pod pod) {
        List<Report> reports = new ArrayList<>();
        synchronized (this) {
            if ("DELETED".equals(type)) {
                pods.remove(pod.getMetadata().getName());
            } else {
                pods.put(pod.getMetadata().getName(), pod);
            }
            String job = JobPhases.jobOf(pod);
            if (job != null) {
                subscriptions.getOrDefault(job, List.of()).forEach(s -> evaluate(s, reports));
            }
        }
        deliver(reports);
    }

    /** Works out one run's phase from the caches; a change goes into {@code reports}. Holds the lock. */
    private void evaluate(Subscription s, List<Report> reports) {
        if (!jobsListed || !podsListed || (s.last != null && s.last.terminal())) {
            return;
        }
        V1Job job = jobs.get(s.job);
        Phase phase;
        List<V1Pod> jobPods = pods.values().stream().filter(p -> s.job.equals(JobPhases.jobOf(p))).toList();
        if (job != null) {
            phase = JobPhases.of(job, jobPods);
        } else if (deleted.containsKey(s.job)) {
            V1Job last = deleted.get(s.job);
            phase = last != null && JobPhases.succeeded(last) ? Phase.Exited.of(0)
                    : new Phase.Gone("Kubernetes job " + namespace + "/" + s.job + " was deleted.");
        } else {
            phase = null;
        }
        List<InfrastructureEvent> events = podEvents(s, jobPods);
        if (phase == null || phase.equals(s.last)) {
            if (!events.isEmpty()) {
                reports.add(new Report(s, events, null, job, null));
            }
            return;
        }
        s.started |= phase instanceof Phase.Running || phase.terminal();
        s.last = phase;
        reports.add(new Report(s, events, phase, job, JobPhases.latest(jobPods)));
    }

    /** The events for the pods whose state changed since the subscription's last look. Holds the lock. */
    private static List<InfrastructureEvent> podEvents(Subscription s, List<V1Pod> jobPods) {
        List<InfrastructureEvent> out = new ArrayList<>();
        for (V1Pod pod : jobPods) {
            String key = PodEvents.key(pod);
            if (key != null && !key.equals(s.podEvents.put(pod.getMetadata().getUid(), key))) {
                out.add(PodEvents.of(pod));
            }
        }
        return out;
    }

    private void deliver(List<Report> reports) {
        for (Report r : reports) {
            r.events().forEach(r.to().sink::event);
            if (r.phase() == null) {
                continue;
            }
            boolean failed = r.phase() instanceof Phase.Exited e && !e.status().successful()
                    || r.phase() instanceof Phase.Gone && r.job() != null;
            // the Job stream may tell of the end before the pod stream does: the pod's last event is still owed
            boolean podBehind = r.phase().terminal() && r.pod() != null && !podEnded(r.pod());
            if (failed || podBehind) {
                // settling a failure and catching up with the pod take calls, so not on this thread
                Thread.ofVirtual().name("k8s-end-" + r.to().job).start(() -> {
                    if (podBehind) {
                        catchUp(r.to());
                    }
                    r.to().sink.report(failed ? settle(r) : r.phase());
                });
            } else {
                r.to().sink.report(r.phase());
            }
        }
    }

    private static boolean podEnded(V1Pod pod) {
        String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
        return "Succeeded".equals(phase) || "Failed".equals(phase);
    }

    /** Reads the Job's pods once more and sends the events the caches had not caught up with. */
    private void catchUp(Subscription s) {
        List<V1Pod> fresh;
        try {
            fresh = cluster.core().listNamespacedPod(namespace).labelSelector("job-name=" + s.job).execute().getItems();
        } catch (ApiException | RuntimeException e) {
            // the events of the pod's end are lost; its phase is reported all the same
            return;
        }
        List<InfrastructureEvent> events;
        synchronized (this) {
            events = podEvents(s, fresh);
        }
        events.forEach(s.sink::event);
    }

    /**
     * The final word on a failed Job: the two streams arrive in any order, so a Job marked failed may be seen
     * before its pod's exit code; the pods are read once more, and the end of the pod's log is added.
     */
    private Phase settle(Report r) {
        Phase phase = r.phase();
        V1Pod pod = r.pod();
        if (r.job() != null && phase instanceof Phase.Gone) {
            try {
                List<V1Pod> fresh = cluster.core().listNamespacedPod(namespace)
                        .labelSelector("job-name=" + r.to().job).execute().getItems();
                Phase again = JobPhases.of(r.job(), fresh);
                if (again != null && again.terminal()) {
                    phase = again;
                    pod = JobPhases.latest(fresh);
                }
            } catch (ApiException | RuntimeException e) {
                // the Job's own reason stands
            }
        }
        return logTails.withTail(cluster, pod, phase, r.to().sink);
    }

    /** The API server has been unreachable for too long: every run watched here is lost. */
    private void giveUp(String cause) {
        List<Report> reports = new ArrayList<>();
        synchronized (this) {
            Phase gone = new Phase.Gone("The worker lost its watch of Kubernetes namespace " + namespace + " on "
                    + cluster.server() + " for " + giveUpAfter.toSeconds() + " s: " + cause);
            subscriptions.values().forEach(subs -> subs.forEach(s -> {
                if (s.last == null || !s.last.terminal()) {
                    s.last = gone;
                    reports.add(new Report(s, List.of(), gone, null, null));
                }
            }));
        }
        deliver(reports);
    }

    @Override
    public void close() {
        List<Watch<?>> streams;
        List<Thread> running;
        synchronized (this) {
            closed = true;
            streams = List.copyOf(open);
            running = List.copyOf(threads);
            subscriptions.clear();
        }
        for (Watch<?> w : streams) {
            try {
                w.close();
            } catch (Exception e) {
                // the stream ends either way
            }
        }
        running.forEach(Thread::interrupt);
    }

    private synchronized boolean closed() {
        return closed;
    }

    private record Listing<T>(List<T> items, String resourceVersion) {
    }

    /** One list-then-watch loop over one kind of object. */
    private abstract class Stream<T extends KubernetesObject> {
        private final String kind;
        private final Type eventType;

        Stream(String kind, Type eventType) {
            this.kind = kind;
            this.eventType = eventType;
        }

        abstract Listing<T> list() throws ApiException;

        abstract Call watch(String resourceVersion) throws ApiException;

        abstract void listed(List<T> items, long startedAt);

        abstract void changed(String type, T object);

        void run() {
            String version = null;
            long failingSince = 0;
            Duration backoff = Duration.ofSeconds(1);
            while (!closed()) {
                String cause;
                try {
                    if (version == null) {
                        long startedAt = System.nanoTime();
                        Listing<T> l = list();
                        listed(l.items(), startedAt);
                        version = l.resourceVersion();
                    }
                    version = follow(version);
                    failingSince = 0;
                    backoff = Duration.ofSeconds(1);
                    continue;
                } catch (ApiException e) {
                    if (e.getCode() == 410) {
                        version = null;
                        continue;
                    }
                    cause = e.getCode() == 0 ? rootMessage(e) : "HTTP " + e.getCode() + " " + KubernetesErrors.message(e);
                } catch (Exception e) {
                    // okhttp and the watch's iterator throw unchecked (and, from Kotlin, undeclared) exceptions
                    cause = rootMessage(e);
                }
                if (closed()) {
                    return;
                }
                long now = System.nanoTime();
                if (failingSince == 0) {
                    failingSince = now;
                }
                LOG.warn("Watch of {} in namespace {} failed ({}); retrying in {} s", kind, namespace, cause,
                        backoff.toSeconds());
                if (Duration.ofNanos(now - failingSince).compareTo(giveUpAfter) >= 0) {
                    giveUp(cause);
                }
                try {
                    Thread.sleep(backoff);
                } catch (InterruptedException e) {
                    return;
                }
                backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
            }
        }

        /**
         * Follows one watch connection until the server ends it; returns the version to resume from, or null to
         * list again (410). A connection that ends at once without a word counts as a failure.
         */
        private String follow(String version) throws ApiException {
            long opened = System.nanoTime();
            boolean heard = false;
            Watch<T> w = Watch.createWatch(cluster.watches(), watch(version), eventType);
            synchronized (NamespaceWatch.this) {
                if (closed) {
                    closeQuietly(w);
                    return version;
                }
                open.add(w);
            }
            try {
                for (Watch.Response<T> event : w) {
                    heard = true;
                    if ("ERROR".equals(event.type)) {
                        if (event.status != null && Integer.valueOf(410).equals(event.status.getCode())) {
                            return null;
                        }
                        throw new ApiException(event.status == null ? 500 : event.status.getCode(),
                                event.status == null ? "watch error" : event.status.getMessage());
                    }
                    if (event.object == null || event.object.getMetadata() == null) {
                        continue;
                    }
                    if (!"BOOKMARK".equals(event.type)) {
                        changed(event.type, event.object);
                    }
                    String next = event.object.getMetadata().getResourceVersion();
                    if (next != null && !next.isEmpty()) {
                        version = next;
                    }
                }
            } finally {
                synchronized (NamespaceWatch.this) {
                    open.remove(w);
                }
                closeQuietly(w);
            }
            if (!heard && Duration.ofNanos(System.nanoTime() - opened).toMillis() < 1000) {
                throw new IllegalStateException("the watch of " + kind + " ended as soon as it began");
            }
            return version;
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String message = root instanceof ApiException a && a.getCode() == 0 ? null : root.getMessage();
        return message == null ? root.getClass().getSimpleName() : message;
    }

    private static void closeQuietly(Watch<?> w) {
        try {
            w.close();
        } catch (Exception e) {
            // already closed
        }
    }
}
