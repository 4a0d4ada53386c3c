package io.pworker.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pworker.spi.FlowRunInfo;
import io.pworker.spi.InfrastructureEvent;
import io.pworker.spi.InfrastructureException;
import io.pworker.spi.LaunchException;
import io.pworker.spi.LaunchRequest;
import io.pworker.spi.Phase;
import io.pworker.spi.RunHandle;
import io.pworker.spi.RunLog;
import io.pworker.spi.Watch;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The launcher against the fake API server with a scripted kubelet: watch behaviour, failures, secrets, access. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class KubernetesLauncherTest {

    private final ScriptedKubelet kubelet = new ScriptedKubelet();
    private final FakeKubernetes cluster;
    private final List<KubernetesLauncher> launchers = new ArrayList<>();
    private final List<Watch> watches = new ArrayList<>();
    private final List<String> log = new CopyOnWriteArrayList<>();
    @TempDir
    Path dir;

    private final RunLog runLog = new RunLog() {
        @Override
        public void info(String message) {
            log.add("INFO " + message);
        }

        @Override
        public void warn(String message) {
            log.add("WARN " + message);
        }

        @Override
        public void error(String message, Throwable cause) {
            log.add("ERROR " + message);
        }
    };

    KubernetesLauncherTest() throws Exception {
        cluster = new FakeKubernetes(kubelet);
    }

    @AfterEach
    void stop() {
        watches.forEach(Watch::close);
        launchers.forEach(KubernetesLauncher::close);
        cluster.close();
        assertThat(cluster.violations()).isEmpty();
    }

    private KubernetesLauncher launcher(Map<String, String> settings) {
        KubernetesLauncher l = new KubernetesLauncher("k8s worker 1", KubernetesLauncherContractTest.quickSettings(settings),
                new ClusterAccess(Map.of(), dir.resolve("no-service-account"), true), Duration.ofSeconds(30));
        launchers.add(l);
        return l;
    }

    private static FlowRunInfo run() {
        String id = UUID.randomUUID().toString();
        return new FlowRunInfo(id, "tidy-otter", UUID.randomUUID().toString(), "etl", null, null, "k8s-pool",
                UUID.randomUUID().toString(), "k8s worker 1", List.of());
    }

    private ObjectNode configuration(FlowRunInfo run, String variablesJson) throws Exception {
        ObjectNode variables = (ObjectNode) new com.fasterxml.jackson.databind.ObjectMapper().readTree(variablesJson);
        variables.putObject("cluster_config").put("context_name", "fake").set("config", cluster.kubeconfig("fake"));
        return Rendered.configuration(run, variables);
    }

    private RunHandle launch(KubernetesLauncher l, FlowRunInfo run, ObjectNode configuration) throws Exception {
        return l.launch(new LaunchRequest(run, configuration, runLog));
    }

    private BlockingQueue<Phase> watch(KubernetesLauncher l, RunHandle h, ObjectNode configuration) throws Exception {
        BlockingQueue<Phase> phases = new LinkedBlockingQueue<>();
        watches.add(l.watch(h, configuration, phases::add));
        return phases;
    }

    private static Phase until(BlockingQueue<Phase> phases, Class<? extends Phase> kind) throws InterruptedException {
        while (true) {
            Phase p = phases.poll(30, TimeUnit.SECONDS);
            assertThat(p).as("a " + kind.getSimpleName() + " phase").isNotNull();
            if (kind.isInstance(p)) {
                return p;
            }
            assertThat(p.terminal()).as("ended early: " + p).isFalse();
        }
    }

    @Test
    void anImagePullFailureIsPendingWithItsDiagnosisThenCrashesWhenThePodNeverStarts() throws Exception {
        kubelet.script(pod -> {
            pod.waiting("ErrImagePull", "failed to pull image \"nope:1\": not found");
            Thread.sleep(200);
            pod.waiting("ImagePullBackOff", "Back-off pulling image \"nope:1\"");
            pod.awaitStop(Duration.ofMinutes(1));
        });
        KubernetesLauncher l = launcher(Map.of());
        FlowRunInfo run = run();
        ObjectNode c = configuration(run, "{\"image\": \"nope:1\", \"pod_watch_timeout_seconds\": 3}");
        RunHandle h = launch(l, run, c);
        BlockingQueue<Phase> phases = watch(l, h, c);
        List<Phase> seen = new ArrayList<>();
        Phase p;
        do {
            p = phases.poll(30, TimeUnit.SECONDS);
            assertThat(p).isNotNull();
            seen.add(p);
        } while (!p.terminal());
        assertThat(seen).anySatisfy(s -> assertThat(s).isInstanceOfSatisfying(Phase.Pending.class,
                pending -> assertThat(pending.detail()).startsWith("Image pull failure: ImagePullBackOff")
                        .contains("Resolution:")));
        assertThat(((Phase.Gone) p).reason()).contains("Image pull failure").contains("pod_watch_timeout_seconds");
        JobRef ref = JobRef.of(h);
        Thread.sleep(500);
        assertThat(cluster.get("jobs", ref.namespace(), ref.name())).as("the stuck job is deleted").isNull();
    }

    @Test
    void anUnschedulablePodIsPendingForInsufficientResources() throws Exception {
        kubelet.script(pod -> {
            pod.unschedulable("0/3 nodes are available: 3 Insufficient cpu.");
            pod.awaitStop(Duration.ofMinutes(1));
        });
        KubernetesLauncher l = launcher(Map.of());
        FlowRunInfo run = run();
        ObjectNode c = configuration(run, "{\"image\": \"busybox\"}");
        BlockingQueue<Phase> phases = watch(l, launch(l, run, c), c);
        Phase.Pending p;
        do {
            p = (Phase.Pending) until(phases, Phase.Pending.class);
        } while (!p.detail().startsWith("Insufficient resources"));
        assertThat(p.detail()).contains("3 Insufficient cpu").contains("Resolution: lower the job's cpu and memory");
    }

    @Test
    void aFailedJobReportsTheExitCodeKubernetesReasonAndTheLogTail() throws Exception {
        kubelet.script(pod -> {
            pod.running();
            pod.log("loading data");
            pod.log("Traceback: KeyError 'customer'");
            pod.exit(1);
        });
        KubernetesLauncher l = launcher(Map.of());
        FlowRunInfo run = run();
        ObjectNode c = configuration(run, "{\"image\": \"busybox\"}");
        Phase.Exited end = (Phase.Exited) until(watch(l, launch(l, run, c), c), Phase.Exited.class);
        assertThat(end.status().code()).isEqualTo(1);
        assertThat(end.status().reason()).contains("BackoffLimitExceeded").contains("Traceback: KeyError 'customer'");
    }

    @Test
    void aFailedPodsLogTailReachesTheRunsLogBeforeTheEndCappedAt200Lines() throws Exception {
        kubelet.script(pod -> {
            pod.running();
            for (int i = 1; i <= 250; i++) {
                pod.log("step " + i);
            }
            pod.log("Traceback: KeyError 'customer'");
            pod.exit(1);
        });
        KubernetesLauncher l = launcher(Map.of());
        FlowRunInfo run = run();
        ObjectNode c = configuration(run, "{\"image\": \"busybox\"}");
        io.pworker.testkit.RecordingSink sink = new io.pworker.testkit.RecordingSink();
        List<Object> seen = sink.seen();
        BlockingQueue<Phase> phases = sink.phases();
        watches.add(l.watch(launch(l, run, c), c, sink));
        Phase.Exited end = (Phase.Exited) until(phases, Phase.Exited.class);
        List<String> lines = seen.subList(0, seen.indexOf(end)).stream().filter(String.class::isInstance)
                .map(String.class::cast).toList();
        assertThat(lines).as("header and 200 lines, all before the end").hasSize(201);
        assertThat(lines.get(0)).startsWith("Last 200 lines of pod ");
        assertThat(lines.get(1)).isEqualTo("step 52");
        assertThat(lines.get(200)).isEqualTo("Traceback: KeyError 'customer'");
        assertThat(sink.failureLines()).as("sent as the pod's own output, for the core to forward or not").isEqualTo(lines);
        assertThat(end.status().reason()).contains("Traceback: KeyError 'customer'").contains("step 232")
                .doesNotContain("step 231\n");
    }

    @Test
    void podPhaseChangesBecomePrefectsPodEventsBeforeTheEnd() throws Exception {
        kubelet.script(pod -> {
            pod.unschedulable("0/3 nodes are available: 3 Insufficient cpu.");
            Thread.sleep(300);
            pod.running();
            Thread.sleep(300);
            pod.exit(0);
        });
        KubernetesLauncher l = launcher(Map.of());
        FlowRunInfo run = run();
        ObjectNode c = configuration(run, "{\"image\": \"busybox\"}");
        io.pworker.testkit.RecordingSink sink = new io.pworker.testkit.RecordingSink();
        List<Object> seen = sink.seen();
        BlockingQueue<Phase> phases = sink.phases();
        watches.add(l.watch(launch(l, run, c), c, sink));
        Phase end = until(phases, Phase.Exited.class);
        List<InfrastructureEvent> events = seen.subList(0, seen.indexOf(end)).stream()
                .filter(InfrastructureEvent.class::isInstance).map(InfrastructureEvent.class::cast).toList();
        assertThat(events).extracting(InfrastructureEvent::name).containsSubsequence("prefect.kubernetes.pod.pending",
                "prefect.kubernetes.pod.running", "prefect.kubernetes.pod.succeeded");
        assertThat(events.getLast().name()).isEqualTo("prefect.kubernetes.pod.succeeded");
        assertThat(events).extracting(InfrastructureEvent::resourceId).containsOnly(events.getFirst().resourceId());
        assertThat(events.getFirst().resourceId()).matches("prefect\\.kubernetes\\.pod\\.[0-9a-f-]{36}");
        assertThat(events).allSatisfy(e -> {
            assertThat(e.labels()).containsEntry("kubernetes.namespace", "default").containsKey("prefect.resource.name");
            assertThat(UUID.fromString(e.id()).version()).isEqualTo(5);
        });
        assertThat(events).extracting(InfrastructureEvent::id).doesNotHaveDuplicates();
        assertThat(events).anySatisfy(e -> assertThat(e.labels())
                .containsEntry("kubernetes.diagnosis", "Unschedulable.InsufficientResources"));
        assertThat(events.getLast().occurred()).isNotNull();
        // the id is Python's uuid5, so a value from its documentation pins the algorithm
        assertThat(PodEvents.uuid5(UUID.fromString("6ba7b810-9dad-11d1-80b4-00c04fd430c8"), "python.org"))
                .hasToString("886313e1-3b8a-5372-9b90-0c9aee199e5d");
    }

    @Test
    void aFreshLauncherDiscoversThePoolsJobsThroughTheScopesConfiguration() throws Exception {
        kubelet.script(pod -> {
            pod.running();
            pod.awaitStop(Duration.ofSeconds(20));
        });
        FlowRunInfo run = run();
        ObjectNode c = configuration(run, "{\"image\": \"busybox\"}");
        RunHandle handle = launch(launcher(Map.of()), run, c);
        // the pool's defaults: no run, but the cluster block and the namespace
        ObjectNode defaults = JsonNodeFactory.instance.objectNode().put("namespace", "default");
        defaults.set("cluster_config", c.get("cluster_config"));
        var scope = new io.pworker.spi.InfrastructureScope(run.workPoolId(), run.workPoolName(), null, defaults);

        assertThatThrownBy(() -> launcher(Map.of()).discover(
                new io.pworker.spi.InfrastructureScope(run.workPoolId(), run.workPoolName(), null)))
                .as("without the pool's defaults a worker outside any cluster has none to ask")
                .isInstanceOf(InfrastructureException.class).hasMessageContaining("no Kubernetes cluster");
        var found = launcher(Map.of()).discover(scope);
        assertThat(found).singleElement().satisfies(d -> {
            assertThat(d.flowRunId()).isEqualTo(run.id());
            assertThat(d.handle().infrastructurePid()).isEqualTo(handle.infrastructurePid());
        });

        cluster.failNext("GET", "^/apis/batch/v1/jobs$", 403, "Forbidden", "jobs.batch is forbidden: cannot list "
                + "resource \"jobs\" in API group \"batch\" at the cluster scope");
        assertThat(launcher(Map.of()).discover(scope)).as("namespaced rights: the pool's namespace is searched")
                .extracting(d -> d.flowRunId()).containsExactly(run.id());
        assertThat(cluster.requests()).as("the namespaced list after the refused cluster-wide one")
                .anyMatch(r -> r.startsWith("GET /apis/batch/v1/namespaces/default/jobs?labelSelector=prefect.io"));
    }

    @Test
    void theWatchResumesAfterDropsAndListsAgainAfter410() throws Exception {
        kubelet.script(pod -> {
            pod.running();
            pod.awaitStop(Duration.ofSeconds(3));
            pod.exit(0);
        });
        KubernetesLauncher l = launcher(Map.of());
        FlowRunInfo run = run();
        ObjectNode c = configuration(run, "{\"image\": \"busybox\"}");
        BlockingQueue<Phase> phases = watch(l, launch(l, run, c), c);
        until(phases, Phase.Running.class);
        cluster.dropWatches();
        Thread.sleep(300);
        cluster.compact();
        Phase end = until(phases, Phase.Exited.class);
        assertThat(((Phase.Exited) end).status().code()).isZero();
        assertThat(cluster.watchConnections("jobs")).isGreaterThanOrEqualTo(3);
        long lists = cluster.requests().stream().filter(r -> r.startsWith("GET /apis/batch/v1/namespaces/default/jobs?")
                && !r.contains("watch=true")).count();
        assertThat(lists).as("a relist after 410 Gone").isGreaterThanOrEqualTo(2);
    }

    @Test
    void fiftyRunsAreWatchedThroughOneWatchPerKind() throws Exception {
        kubelet.script(pod -> {
            pod.running();
            Thread.sleep(300);
            pod.exit(0);
        });
        cluster.bookmarkEvery(Duration.ofMillis(200));
        KubernetesLauncher l = launcher(Map.of());
        List<BlockingQueue<Phase>> all = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            FlowRunInfo run = run();
            ObjectNode c = configuration(run, "{\"image\": \"busybox\"}");
            all.add(watch(l, launch(l, run, c), c));
        }
        for (BlockingQueue<Phase> phases : all) {
            assertThat(((Phase.Exited) until(phases, Phase.Exited.class)).status().code()).isZero();
        }
        assertThat(cluster.watchConnections("jobs")).isEqualTo(1);
        assertThat(cluster.watchConnections("pods")).isEqualTo(1);
    }

    @Test
    void aFinishedJobRemovedByItsTtlStaysASuccess() throws Exception {
        kubelet.script(pod -> {
            pod.running();
            pod.exit(0);
        });
        KubernetesLauncher l = launcher(Map.of());
        FlowRunInfo run = run();
        ObjectNode c = configuration(run, "{\"image\": \"busybox\", \"finished_job_ttl\": 1}");
        RunHandle h = launch(l, run, c);
        JobRef ref = JobRef.of(h);
        assertThat(cluster.get("jobs", "default", ref.name()).at("/spec/ttlSecondsAfterFinished").asInt()).isEqualTo(1);
        BlockingQueue<Phase> phases = watch(l, h, c);
        assertThat(until(phases, Phase.Exited.class)).isEqualTo(Phase.Exited.of(0));
        Thread.sleep(2000);
        assertThat(cluster.get("jobs", "default", ref.name())).isNull();
        assertThat(phases).isEmpty();
    }

    @Test
    void jobCreationErrorsCarryPrefectsWordsAndAHint() throws Exception {
        KubernetesLauncher l = launcher(Map.of());
        FlowRunInfo run = run();
        ObjectNode c = configuration(run, "{\"image\": \"busybox\"}");
        for (int i = 0; i < 3; i++) {
            cluster.failNext("POST", "/jobs$", 403, "Forbidden", "jobs.batch is forbidden: User \"system:serviceaccount:"
                    + "prefect:worker\" cannot create resource \"jobs\" in API group \"batch\" in the namespace \"default\"");
        }
        assertThatThrownBy(() -> launch(l, run, c)).isInstanceOf(LaunchException.class)
                .hasMessageStartingWith("Unable to create Kubernetes job: Forbidden: jobs.batch is forbidden")
                .hasMessageContaining("Hint: the worker's service account may not create jobs");
        assertThat(cluster.requests().stream().filter(r -> r.startsWith("POST")).count()).as("3 attempts").isEqualTo(3);

        cluster.failNext("POST", "/jobs$", 403, "Forbidden", "jobs.batch \"x\" is forbidden: exceeded quota: "
                + "compute, requested: requests.cpu=1, used: requests.cpu=4, limited: requests.cpu=4");
        cluster.failNext("POST", "/jobs$", 403, "Forbidden", "exceeded quota: compute");
        cluster.failNext("POST", "/jobs$", 403, "Forbidden", "exceeded quota: compute");
        assertThatThrownBy(() -> launch(l, run, c)).hasMessageContaining("exceeded quota").hasMessageContaining("ResourceQuota");

        ObjectNode elsewhere = configuration(run, "{\"image\": \"busybox\", \"namespace\": \"flows\"}");
        assertThatThrownBy(() -> launch(l, run, elsewhere)).hasMessageContaining("namespaces \"flows\" not found")
                .hasMessageContaining("Hint: namespace 'flows' does not exist");

        cluster.failNext("POST", "/jobs$", 500, "InternalError", "etcd timeout");
        RunHandle h = launch(l, run, c);
        assertThat(h.infrastructurePid()).startsWith("default:tidy-otter-");
        assertThat(log).anyMatch(m -> m.startsWith("WARN Creating the Kubernetes job failed (InternalError: etcd timeout)"));
    }

    @Test
    void aRelaunchAdoptsTheRunsJobAndAFinishedOneIsNotAdopted() throws Exception {
        kubelet.script(pod -> {
            pod.running();
            pod.awaitStop(Duration.ofSeconds(2));
            pod.exit(0);
        });
        KubernetesLauncher l = launcher(Map.of());
        FlowRunInfo run = run();
        ObjectNode c = configuration(run, "{\"image\": \"busybox\"}");
        RunHandle first = launch(l, run, c);
        assertThat(launch(launcher(Map.of()), run, c).infrastructurePid()).isEqualTo(first.infrastructurePid());
        until(watch(l, first, c), Phase.Exited.class);
        assertThat(launch(l, run, c).infrastructurePid()).as("a new attempt after the first ended")
                .isNotEqualTo(first.infrastructurePid());
    }

    @Test
    void storeEnvAsSecretMovesValuesIntoASecretOwnedByTheJob() throws Exception {
        KubernetesLauncher l = launcher(Map.of(KubernetesSettings.PREFIX + "STORE_ENV_AS_SECRET", "true"));
        FlowRunInfo run = run();
        ObjectNode c = configuration(run, "{\"image\": \"busybox\", \"env\": {\"PREFECT_API_KEY\": \"pnu_s3cr3t\"}}");
        JobRef ref = JobRef.of(launch(l, run, c));
        JsonNode job = cluster.get("jobs", "default", ref.name());
        JsonNode container = job.at("/spec/template/spec/containers/0");
        assertThat(container.path("env")).isEmpty();
        String secret = container.at("/envFrom/0/secretRef/name").asText();
        assertThat(secret).matches("tidy-otter-env-[0-9a-f]{8}");
        assertThat(cluster.secretData("default", secret)).containsEntry("PREFECT_API_KEY", "pnu_s3cr3t")
                .containsEntry("PREFECT__FLOW_RUN_ID", run.id());
        JsonNode owner = cluster.get("secrets", "default", secret).at("/metadata/ownerReferences/0");
        assertThat(owner.path("kind").asText()).isEqualTo("Job");
        assertThat(owner.path("uid").asText()).isEqualTo(job.at("/metadata/uid").asText());
        assertThat(job.toString()).doesNotContain("pnu_s3cr3t");
    }

    @Test
    void theApiKeyGoesIntoTheWorkersSecretWhichIsDeletedWhenTheWorkerStops() throws Exception {
        KubernetesLauncher l = launcher(Map.of(KubernetesSettings.PREFIX + "CREATE_SECRET_FOR_API_KEY", "true"));
        FlowRunInfo run = run();
        ObjectNode c = configuration(run, "{\"image\": \"busybox\", \"env\": {\"PREFECT_API_KEY\": \"pnu_s3cr3t\"}}");
        JobRef ref = JobRef.of(launch(l, run, c));
        JsonNode env = cluster.get("jobs", "default", ref.name()).at("/spec/template/spec/containers/0/env");
        JsonNode key = null;
        for (JsonNode e : env) {
            if (e.path("name").asText().equals("PREFECT_API_KEY")) {
                key = e;
            }
        }
        assertThat(key.at("/valueFrom/secretKeyRef/name").asText()).isEqualTo("prefect-k8s-worker-1-api-key");
        assertThat(cluster.secretValue("default", "prefect-k8s-worker-1-api-key", "value")).isEqualTo("pnu_s3cr3t");
        assertThat(env.toString()).doesNotContain("pnu_s3cr3t");
        l.close();
        assertThat(cluster.get("secrets", "default", "prefect-k8s-worker-1-api-key")).isNull();
    }

    @Test
    void withoutAnyClusterTheErrorSaysWhatWasTried() {
        ClusterAccess access = new ClusterAccess(Map.of("HOME", dir.toString()), dir.resolve("sa"), true);
        assertThatThrownBy(() -> access.connect(null)).isInstanceOf(InfrastructureException.class)
                .hasMessageContaining("no cluster_config block")
                .hasMessageContaining("not in a cluster (KUBERNETES_SERVICE_HOST/_PORT unset)")
                .hasMessageContaining("no kubeconfig at " + dir.resolve(".kube/config"));
        ClusterAccess inPod = new ClusterAccess(Map.of("KUBERNETES_SERVICE_HOST", "10.0.0.1", "KUBERNETES_SERVICE_PORT",
                "443", "KUBECONFIG", dir.resolve("missing").toString()), dir.resolve("sa"), true);
        assertThatThrownBy(() -> inPod.connect(null)).hasMessageContaining("no service account token at " + dir.resolve("sa/token"))
                .hasMessageContaining("no kubeconfig at KUBECONFIG=" + dir.resolve("missing"));
        ObjectNode wrongContext = JsonNodeFactory.instance.objectNode();
        assertThatThrownBy(() -> access.connect(new ClusterConfig(cluster.kubeconfig("fake"), "prod")))
                .hasMessageContaining("its kubeconfig has no context named 'prod'");
        assertThat(wrongContext).isEmpty();
    }

    @Test
    void aKubeconfigFileFromKubeconfigIsUsedWhenTheConfigurationHasNoBlock() throws Exception {
        Path file = dir.resolve("kubeconfig");
        Files.writeString(file, cluster.kubeconfig("from-file").toString());
        KubernetesLauncher l = new KubernetesLauncher("w", KubernetesLauncherContractTest.quickSettings(Map.of()),
                new ClusterAccess(Map.of("KUBECONFIG", file.toString()), dir.resolve("sa"), true), Duration.ofSeconds(30));
        launchers.add(l);
        FlowRunInfo run = run();
        ObjectNode c = configuration(run, "{\"image\": \"busybox\"}");
        c.remove("cluster_config");
        assertThat(launch(l, run, c).infrastructurePid()).startsWith("default:tidy-otter-");
    }
}
