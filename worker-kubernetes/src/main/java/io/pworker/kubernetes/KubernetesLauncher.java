package io.pworker.kubernetes;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.kubernetes.client.openapi.ApiException;
import io.kubernetes.client.openapi.models.V1Job;
import io.kubernetes.client.openapi.models.V1JobList;
import io.kubernetes.client.openapi.models.V1Pod;
import io.kubernetes.client.openapi.models.V1Secret;
import io.pworker.spi.Discovered;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.InfrastructureLauncher;
import io.pworker.spi.InfrastructureScope;
import io.pworker.spi.KillOutcome;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.Phase;
import io.pworker.spi.PhaseSink;
import io.pworker.spi.RunHandle;
import io.pworker.spi.RunLog;
import io.pworker.spi.Watch;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Runs flow runs as Kubernetes Jobs and watches them to the end. Unlike prefect-kubernetes, whose worker returns
 * once the Job exists and leaves crash detection to a cluster-wide observer, every run is followed through one
 * shared watch per namespace ({@link NamespaceWatch}) until its pod's {@code prefect-job} container exits.
 */
final class KubernetesLauncher implements InfrastructureLauncher {

    static final String DEFAULT_PYTHON = "3.12";

    private final KubernetesSettings settings;
    private final ClusterAccess access;
    private final JobSecrets secrets;
    private final Duration giveUpAfter;
    /** 200 lines / 64 KiB to the run's log (Prefect forwards up to 500); 20 lines / 4000 characters in the reason. */
    private final LogTails logTails = new LogTails(200, 64 * 1024, 20, 4000);
    /** Guarded by this: clusters by {@link #key}, namespace watches by cluster key and namespace. */
    private final Map<String, Cluster> clusters = new HashMap<>();
    private final Map<String, NamespaceWatch> watches = new HashMap<>();
    private boolean closed;

    KubernetesLauncher(String workerName, KubernetesSettings settings, ClusterAccess access, Duration giveUpAfter) {
        this.settings = settings;
        this.access = access;
        this.secrets = new JobSecrets(settings, workerName);
        this.giveUpAfter = giveUpAfter;
    }

    @Override
    public RunHandle launch(LaunchRequest request) throws LaunchException, InterruptedException {
        ObjectNode configuration = request.configuration();
        KubernetesJobConfiguration config = KubernetesJobConfiguration.prepare(configuration, request.run(),
                defaultImage(settings.defaultImage(), configuration));
        Cluster cluster;
        try {
            cluster = cluster(config.cluster());
        } catch (InfrastructureException e) {
            throw new LaunchException(e.getMessage(), e);
        }
        String runId = request.run().id();
        V1Job existing = activeJobOf(cluster, config.namespace(), runId);
        if (existing != null) {
            request.log().info("Found Kubernetes job " + JobRef.of(existing) + " of this flow run; following it "
                    + "instead of creating another.");
            return JobRef.of(existing).handle(existing.getMetadata().getUid());
        }
        JobRequest jobRequest = JobRequest.of(config, secrets, cluster, runId, request.log());
        V1Secret envSecret = jobRequest.envSecret();
        V1Job job = jobRequest.job();
        if (envSecret != null) {
            try {
                cluster.core().createNamespacedSecret(config.namespace(), envSecret).execute();
            } catch (ApiException e) {
                throw new LaunchException("Unable to create the environment Secret for the job: "
                        + KubernetesErrors.message(e));
            }
        }
        boolean done = false;
        try {
            V1Job created = create(cluster, config.namespace(), job, runId, request.log());
            if (envSecret != null) {
                try {
                    JobSecrets.ownBy(cluster, envSecret, created);
                } catch (ApiException e) {
                    request.log().warn("Could not make job " + JobRef.of(created) + " the owner of Secret "
                            + envSecret.getMetadata().getName() + " (" + KubernetesErrors.message(e)
                            + "); delete it when the job is gone.");
                }
            }
            done = true;
            request.log().info("Created Kubernetes job " + JobRef.of(created) + ".");
            return JobRef.of(created).handle(created.getMetadata().getUid());
        } finally {
            if (!done && envSecret != null) {
                deleteQuietly(cluster, envSecret);
            }
        }
    }

    /** Creates the Job, with prefect-kubernetes' retries; before each retry, a Job an earlier attempt made is adopted. */
    private V1Job create(Cluster cluster, String namespace, V1Job job, String runId, RunLog log)
            throws LaunchException, InterruptedException {
        int attempts = Math.max(1, settings.createAttempts());
        ApiException last = null;
        for (int attempt = 1; attempt <= attempts; attempt++) {
            if (attempt > 1) {
                long jitter = settings.retryJitterMax().toMillis() <= settings.retryJitterMin().toMillis()
                        ? settings.retryJitterMin().toMillis()
                        : ThreadLocalRandom.current().nextLong(settings.retryJitterMin().toMillis(),
                                settings.retryJitterMax().toMillis() + 1);
                Thread.sleep(settings.retryDelay().toMillis() + jitter);
                V1Job earlier = activeJobOf(cluster, namespace, runId);
                if (earlier != null) {
                    return earlier;
                }
            }
            try {
                return cluster.batch().createNamespacedJob(namespace, job).execute();
            } catch (ApiException e) {
                if (e.getCause() instanceof InterruptedIOException || Thread.currentThread().isInterrupted()) {
                    throw new InterruptedException("interrupted while creating the Kubernetes job");
                }
                last = e;
                if (attempt < attempts) {
                    log.warn("Creating the Kubernetes job failed (" + KubernetesErrors.message(e) + "); attempt "
                            + (attempt + 1) + " of " + attempts + " follows.");
                }
            }
        }
        throw new LaunchException(KubernetesErrors.jobCreationFailed(last, namespace));
    }

    /** The flow run's unfinished Job in the namespace, if one exists (a relaunch, or a create whose answer was lost). */
    private V1Job activeJobOf(Cluster cluster, String namespace, String runId) throws LaunchException {
        V1JobList jobs;
        try {
            jobs = cluster.batch().listNamespacedJob(namespace)
                    .labelSelector(NamespaceWatch.RUN_LABEL + "=" + KubernetesNames.labelValue(runId)).execute();
        } catch (ApiException e) {
            if (e.getCode() == 403 || e.getCode() == 404) {
                // creating will fail with the words that matter (RBAC, missing namespace)
                return null;
            }
            throw new LaunchException("Unable to look for an existing Kubernetes job of this flow run in namespace '"
                    + namespace + "': " + KubernetesErrors.message(e));
        }
        return jobs.getItems().stream()
                .filter(j -> j.getMetadata().getDeletionTimestamp() == null)
                .filter(j -> {
                    Phase p = JobPhases.of(j, List.of());
                    return p != null && !p.terminal();
                })
                .min(Comparator.comparing(j -> j.getMetadata().getCreationTimestamp(),
                        Comparator.nullsLast(Comparator.naturalOrder())))
                .orElse(null);
    }

    @Override
    public Watch watch(RunHandle handle, ObjectNode configuration, PhaseSink sink) throws InfrastructureException {
        JobRef ref = JobRef.of(handle);
        ClusterConfig block = ClusterConfig.of(configuration);
        Cluster cluster = cluster(block);
        V1Job job;
        try {
            job = cluster.batch().readNamespacedJob(ref.name(), ref.namespace()).execute();
        } catch (ApiException e) {
            if (e.getCode() == 404) {
                sink.report(new Phase.Gone("Kubernetes job " + ref + " no longer exists."));
                return () -> { };
            }
            throw new InfrastructureException("cannot read Kubernetes job " + ref + " on " + cluster.server() + ": "
                    + KubernetesErrors.message(e), e);
        }
        Integer startTimeout = KubernetesJobConfiguration.integer(configuration, "pod_watch_timeout_seconds");
        Instant startBy = startTimeout == null || job.getMetadata().getCreationTimestamp() == null ? null
                : job.getMetadata().getCreationTimestamp().toInstant().plusSeconds(startTimeout);
        return namespaceWatch(cluster, key(block), ref.namespace()).subscribe(ref.name(), sink, startBy);
    }

    @Override
    public Phase recover(RunHandle handle, ObjectNode configuration) throws InfrastructureException {
        JobRef ref = JobRef.of(handle);
        Cluster cluster = cluster(ClusterConfig.of(configuration));
        V1Job job;
        List<V1Pod> pods;
        try {
            job = cluster.batch().readNamespacedJob(ref.name(), ref.namespace()).execute();
            pods = podsOf(cluster, ref);
        } catch (ApiException e) {
            if (e.getCode() == 404) {
                return new Phase.Gone("Kubernetes job " + ref + " no longer exists.");
            }
            throw new InfrastructureException("cannot read Kubernetes job " + ref + " on " + cluster.server() + ": "
                    + KubernetesErrors.message(e), e);
        }
        Phase phase = JobPhases.of(job, pods);
        if (phase == null) {
            return new Phase.Pending("Kubernetes job " + ref + " is being deleted.");
        }
        boolean failed = phase instanceof Phase.Gone || phase instanceof Phase.Exited e && !e.status().successful();
        // no sink here: recover's caller gets the excerpt in the reason only
        return failed ? logTails.withTail(cluster, JobPhases.latest(pods), phase, p -> { }) : phase;
    }

    /**
     * Deletes the Job (foreground: its pods go first) and then its pods with the grace period, since a Job's
     * deletion alone gives each pod its own terminationGracePeriodSeconds (30 s by default) whatever was asked.
     */
    @Override
    public KillOutcome kill(RunHandle handle, ObjectNode configuration, Duration grace) throws InfrastructureException {
        JobRef ref = JobRef.of(handle);
        Cluster cluster = cluster(ClusterConfig.of(configuration));
        int seconds = (int) Math.max(0, grace.toSeconds());
        try {
            // raw call: for a foreground deletion the server answers with the Job, not the Status client-java expects
            cluster.calls().execute(cluster.batch().deleteNamespacedJob(ref.name(), ref.namespace())
                    .propagationPolicy("Foreground").gracePeriodSeconds(seconds).buildCall(null));
        } catch (ApiException e) {
            if (e.getCode() == 404) {
                return KillOutcome.NOT_FOUND;
            }
            throw new InfrastructureException("cannot delete Kubernetes job " + ref + ": " + KubernetesErrors.message(e), e);
        }
        try {
            for (V1Pod pod : podsOf(cluster, ref)) {
                if (pod.getStatus() != null && List.of("Succeeded", "Failed").contains(pod.getStatus().getPhase())) {
                    continue;
                }
                cluster.calls().execute(cluster.core().deleteNamespacedPod(pod.getMetadata().getName(), ref.namespace())
                        .gracePeriodSeconds(seconds).buildCall(null));
            }
        } catch (ApiException e) {
            // no right to delete pods, or they went first: the Job's deletion stops them with their own grace
        }
        return KillOutcome.KILLED;
    }

    /**
     * Lists the pool's Jobs cluster-wide when the worker may, else namespace by namespace. The cluster and the
     * namespace come from the pool's defaults in the scope when it has them: right after a restart nothing is
     * watched yet, and the pool's cluster_config may name a cluster other than the worker's own.
     */
    @Override
    public List<Discovered> discover(InfrastructureScope scope) throws InfrastructureException {
        ObjectNode defaults = scope.configuration();
        ClusterConfig block;
        String namespace;
        try {
            block = ClusterConfig.of(defaults);
            namespace = defaults.isEmpty() ? null : KubernetesJobConfiguration.namespaceOf(defaults);
        } catch (LaunchException e) {
            throw new InfrastructureException("cannot list flow-run jobs: " + e.getMessage(), e);
        }
        Cluster cluster = cluster(block);
        String selector = "prefect.io/work-pool-id=" + KubernetesNames.labelValue(scope.workPoolId())
                + (scope.workerName() == null ? "" : ",prefect.io/worker-name=" + KubernetesNames.labelValue(scope.workerName()));
        List<V1Job> jobs = new ArrayList<>();
        try {
            try {
                jobs.addAll(cluster.batch().listJobForAllNamespaces().labelSelector(selector).execute().getItems());
            } catch (ApiException e) {
                if (e.getCode() != 403) {
                    throw e;
                }
                // only namespaced rights: look in the pool's namespace and where this worker watches
                for (String ns : namespacesToSearch(key(block), namespace)) {
                    jobs.addAll(cluster.batch().listNamespacedJob(ns).labelSelector(selector).execute().getItems());
                }
            }
            List<Discovered> out = new ArrayList<>();
            for (V1Job job : jobs) {
                JobRef ref = JobRef.of(job);
                Phase phase = JobPhases.of(job, podsOf(cluster, ref));
                String runId = job.getMetadata().getLabels() == null ? null
                        : job.getMetadata().getLabels().get(NamespaceWatch.RUN_LABEL);
                if (runId != null) {
                    out.add(new Discovered(runId, ref.handle(job.getMetadata().getUid()),
                            phase == null ? new Phase.Pending("being deleted") : phase));
                }
            }
            return out;
        } catch (ApiException e) {
            throw new InfrastructureException("cannot list flow-run jobs on " + cluster.server() + ": "
                    + KubernetesErrors.message(e), e);
        }
    }

    @Override
    public void close() {
        List<NamespaceWatch> open;
        List<Cluster> all;
        synchronized (this) {
            closed = true;
            open = List.copyOf(watches.values());
            all = List.copyOf(clusters.values());
            watches.clear();
        }
        open.forEach(NamespaceWatch::close);
        secrets.deleteCreated();
        for (Cluster c : all) {
            for (var client : List.of(c.calls(), c.watches())) {
                client.getHttpClient().dispatcher().executorService().shutdown();
                client.getHttpClient().connectionPool().evictAll();
            }
        }
    }

    /** How many watch subscriptions are open; for tests. */
    synchronized int subscribers() {
        return watches.values().stream().mapToInt(NamespaceWatch::subscribers).sum();
    }

    private List<V1Pod> podsOf(Cluster cluster, JobRef ref) throws ApiException {
        return cluster.core().listNamespacedPod(ref.namespace()).labelSelector("job-name=" + ref.name()).execute()
                .getItems();
    }

    /** The pool's namespace (when known) and those watched on the same cluster, each once. */
    private synchronized List<String> namespacesToSearch(String clusterKey, String poolNamespace) {
        LinkedHashSet<String> out = new LinkedHashSet<>();
        if (poolNamespace != null) {
            out.add(poolNamespace);
        }
        watches.keySet().stream().filter(k -> k.startsWith(clusterKey + " "))
                .map(k -> k.substring(k.lastIndexOf(' ') + 1)).forEach(out::add);
        return List.copyOf(out);
    }

    private synchronized Cluster cluster(ClusterConfig block) throws InfrastructureException {
        String key = key(block);
        Cluster c = clusters.get(key);
        if (c == null) {
            c = access.connect(block);
            clusters.put(key, c);
        }
        return c;
    }

    private synchronized NamespaceWatch namespaceWatch(Cluster cluster, String clusterKey, String namespace)
            throws InfrastructureException {
        if (closed) {
            throw new InfrastructureException("the Kubernetes launcher is closed");
        }
        String key = clusterKey + " " + namespace;
        NamespaceWatch w = watches.get(key);
        if (w == null) {
            w = new NamespaceWatch(cluster, namespace, giveUpAfter, logTails);
            watches.put(key, w);
            w.start();
        }
        return w;
    }

    /** Clusters are told apart by their block's content; the worker's own cluster is "default". */
    private static String key(ClusterConfig block) {
        if (block == null) {
            return "default";
        }
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(block.kubeconfig().toString().getBytes(StandardCharsets.UTF_8));
            sha.update(("\n" + block.contextName()).getBytes(StandardCharsets.UTF_8));
            return "block-" + HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Prefect runs flows in the Prefect image of the worker's version; ours is the version pworker speaks. */
    /**
     * What the Job creation sends: the Secret for the environment ({@code STORE_ENV_AS_SECRET}), or null, and the
     * Job. The manifest's environment is rewritten for the secret options first (which may upsert the API-key
     * Secret on {@code cluster}).
     */
    record JobRequest(V1Secret envSecret, V1Job job) {

        static JobRequest of(KubernetesJobConfiguration config, JobSecrets secrets, Cluster cluster, String runId,
                RunLog log) throws LaunchException {
            V1Secret envSecret = secrets.apply(cluster, config.namespace(), config.manifest(), runId, log);
            return new JobRequest(envSecret, JobManifests.toJob(config.manifest()));
        }
    }

    /** @param configured {@code PWORKER_KUBERNETES_DEFAULT_IMAGE}, or null */
    static String defaultImage(String configured, ObjectNode configuration) {
        if (configured != null) {
            return configured;
        }
        String version = configuration.path("labels").path("prefect.io/version").asText("");
        return version.matches("\\d+\\.\\d+\\.\\d+") ? "prefecthq/prefect:" + version + "-python" + DEFAULT_PYTHON
                : "prefecthq/prefect:3-python" + DEFAULT_PYTHON;
    }

    private static void deleteQuietly(Cluster cluster, V1Secret secret) {
        try {
            cluster.core().deleteNamespacedSecret(secret.getMetadata().getName(), secret.getMetadata().getNamespace())
                    .execute();
        } catch (ApiException | RuntimeException e) {
            // the Job was not created; a leftover Secret holds only what the run would have had
        }
    }
}
