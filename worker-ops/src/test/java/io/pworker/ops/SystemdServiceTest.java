package io.pworker.ops;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.pworker.testkit.FakePrefectServer;
import io.pworker.testkit.PrefectTemplates;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The shipped unit under a real systemd: a Debian root file system with systemd (.ci/systemd-rootfs.sh) runs as
 * a container with systemd as PID 1 and host networking; install.sh installs the distribution and the unit, which
 * then talks to the Prefect API fake on 127.0.0.1. Checked: the service is active only once a poll was answered,
 * its status line follows the runs, a frozen JVM (SIGSTOP) is killed by the watchdog and restarted, and
 * {@code systemctl stop} ends it gracefully within the grace. The container and image are removed by id and tag.
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class SystemdServiceTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final String suffix = UUID.randomUUID().toString().substring(0, 8);
    private final String image = "pworker-ops-systemd:" + suffix;
    private String container;
    private FakePrefectServer prefect;

    @AfterEach
    void cleanUp() throws Exception {
        if (container != null) {
            Commands.dockerMay("rm", "-f", container);
        }
        Commands.dockerMay("rmi", image);
        if (prefect != null) {
            prefect.close();
        }
    }

    @Test
    void theUnitIsReadyAfterThePollWatchedByTheWatchdogAndStopsGracefully() throws Exception {
        Commands.requireDocker();
        Path rootfs = rootfs();
        Commands.Result imported = Commands.run(Duration.ofMinutes(2), Map.of(), List.of("bash", "-c",
                "tar -C \"$0\" -c . | docker import - \"$1\"", rootfs.toString(), image));
        assertThat(imported.code()).as(imported.out()).isZero();

        prefect = FakePrefectServer.start();
        prefect.createWorkPool("pool", "process", PrefectTemplates.prefectDefault("process"));
        String flow = prefect.createFlow("etl");
        prefect.setAvailable(false);

        // systemd needs capabilities and the cgroup file system; --privileged also asks for CAP_SYS_RESOURCE,
        // which a Docker engine that runs in a container itself may not have to give
        container = Commands.docker("run", "-d", "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
                "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined", "--network", "host",
                "--tmpfs", "/run", "--tmpfs", "/run/lock", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
                "-v", Repo.distribution() + ":/mnt/pworker:ro", "-v", Commands.javaHome() + ":/opt/jdk:ro",
                "--label", "pworker-ops-test=" + suffix, image, "/lib/systemd/systemd");
        await(Duration.ofSeconds(60), () -> List.of("running", "degraded")
                .contains(exec("systemctl", "is-system-running").out()), "systemd is up");

        int port = Commands.freePort();
        String env = String.join("\n", "PWORKER_POOL=pool", "PWORKER_START_ARGS=--type process --name under-systemd",
                "PREFECT_API_URL=" + prefect.apiUrl(), "JAVA_HOME=/opt/jdk", "PREFECT_WORKER_QUERY_SECONDS=1",
                "PREFECT_WORKER_HEARTBEAT_SECONDS=1", "PREFECT_WORKER_PREFETCH_SECONDS=0",
                "PREFECT_CLIENT_MAX_RETRIES=1", "PREFECT_WORKER_WEBSERVER_HOST=127.0.0.1",
                "PREFECT_WORKER_WEBSERVER_PORT=" + port, "PWORKER_KILL_GRACE_SECONDS=5", "");
        // the shipped unit, with a watchdog and restart delay short enough for a test
        String dropIn = "[Service]\nWatchdogSec=3s\nRestartSec=1s\n";
        Commands.Result installed = exec("bash", "-c", "/mnt/pworker/systemd/install.sh"
                + " && printf '%s' \"$0\" > /etc/pworker/pworker.env"
                + " && mkdir -p /etc/systemd/system/pworker.service.d"
                + " && printf '%s' \"$1\" > /etc/systemd/system/pworker.service.d/test.conf"
                + " && systemctl daemon-reload && systemctl start --no-block pworker", env, dropIn);
        assertThat(installed.code()).as(installed.out()).isZero();

        // no answer from the API: started, notifying, but not ready
        await(Duration.ofSeconds(60), () -> show("StatusText").startsWith("Waiting for the first answer"), "status before ready");
        Thread.sleep(2000);
        assertThat(show("ActiveState")).isEqualTo("activating");
        prefect.setAvailable(true);
        await(Duration.ofSeconds(60), () -> show("ActiveState").equals("active"), "active after the first poll");
        await(Duration.ofSeconds(30), () -> show("StatusText")
                .equals("Serving work pool 'pool' (process): 0 flow runs in flight"), "status line");
        assertThat(exec("stat", "-c", "%U", "/var/lib/pworker/state").out()).isEqualTo("pworker");

        String deployment = prefect.createDeployment(flow, "sleeper", "pool", JSON.readTree(
                "{\"command\": \"sleep 300\", \"stream_output\": false}"));
        String runId = prefect.createFlowRun(deployment, "{}");
        await(Duration.ofSeconds(60), () -> show("StatusText").contains(": 1 flow run in flight"), "status follows the run");
        // in flight counts from the claim; the process id is reported once the process runs
        await(Duration.ofSeconds(60), () -> prefect.flowRun(runId).path("infrastructure_pid").isTextual(), "launched");
        String flowPid = prefect.flowRun(runId).path("infrastructure_pid").asText();

        // a frozen JVM sends no pings: systemd kills it (WatchdogSignal=SIGKILL) and starts another
        String frozen = show("MainPID");
        assertThat(exec("bash", "-c", "kill -STOP " + frozen).code()).isZero();
        await(Duration.ofSeconds(30), () -> show("NRestarts").equals("1"), "the watchdog restarts the worker");
        await(Duration.ofSeconds(60), () -> show("ActiveState").equals("active") && !show("MainPID").equals(frozen),
                "a new worker is active");
        assertThat(journal()).contains("Watchdog timeout");
        // KillMode=process: the flow run outlived the worker and the new worker watches it again
        assertThat(exec("bash", "-c", "kill -0 " + flowPid).code()).as("flow run process " + flowPid).isZero();
        await(Duration.ofSeconds(30), () -> show("StatusText").contains(": 1 flow run in flight"), "run adopted");

        Instant stopAsked = Instant.now();
        Commands.Result stopped = exec("systemctl", "stop", "pworker");
        Duration stopping = Duration.between(stopAsked, Instant.now());
        assertThat(stopped.code()).as(stopped.out()).isZero();
        assertThat(stopping).isLessThan(Duration.ofSeconds(30));
        assertThat(show("ActiveState")).isEqualTo("inactive");
        assertThat(show("Result")).isEqualTo("success");
        assertThat(journal()).contains("Worker 'under-systemd' stopped!");
        // a graceful stop stops process runs and reports them, then says the worker stopped
        await(Duration.ofSeconds(10), () -> prefect.stateType(runId).equals("CRASHED"), "run reported");
        assertThat(exec("bash", "-c", "kill -0 " + flowPid).code()).isNotZero();
        assertThat(prefect.eventCount("prefect.worker.stopped")).isEqualTo(1);
        assertThat(exec("ls", "/var/lib/pworker/state/runs").out()).doesNotContain(runId);
    }

    /** The cached root file system; under CI=true its absence is a failure, elsewhere a skip with the reason. */
    private static Path rootfs() throws Exception {
        Commands.Result made = Commands.run(Duration.ofMinutes(5), Map.of(),
                List.of("bash", Repo.root().resolve(".ci/systemd-rootfs.sh").toString()));
        if (made.code() != 0 && !"true".equals(System.getenv("CI"))) {
            Assumptions.abort("no Debian root file system with systemd (.ci/systemd-rootfs.sh): " + made.out());
        }
        assertThat(made.code()).as(made.out()).isZero();
        List<String> lines = made.out().lines().toList();
        return Path.of(lines.get(lines.size() - 1));
    }

    private Commands.Result exec(String... command) throws Exception {
        List<String> args = new java.util.ArrayList<>(List.of("docker", "exec", container));
        args.addAll(List.of(command));
        return Commands.run(Duration.ofMinutes(2), Map.of(), args);
    }

    private String show(String property) throws Exception {
        return exec("systemctl", "show", "-p", property, "--value", "pworker").out();
    }

    private String journal() throws Exception {
        return exec("journalctl", "-u", "pworker", "--no-pager").out();
    }

    interface Check {
        boolean ok() throws Exception;
    }

    private void await(Duration timeout, Check check, String what) throws Exception {
        Instant end = Instant.now().plus(timeout);
        while (Instant.now().isBefore(end)) {
            if (check.ok()) {
                return;
            }
            Thread.sleep(250);
        }
        throw new AssertionError("not within " + timeout + ": " + what + "\n"
                + exec("systemctl", "status", "--no-pager", "pworker").out() + "\n" + journal());
    }
}
