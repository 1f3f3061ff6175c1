#!/usr/bin/env python3
"""pipectl's benchmark suite: the performance targets of the project, measured against moto's
server on loopback through pipectl-proxy (which adds a fixed delay to every request and counts
requests). Writes BENCHMARKS.md. Not a timed test: run it by hand with benches/run.sh.

    benches/run.sh            full run (release build, >= 5 runs after a warm-up, Terraform if present)
    benches/run.sh --smoke    one quick pass with the debug build, to check that the harness works
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_MOTO_PORT = int(os.environ.get("PIPECTL_BENCH_MOTO_PORT", "5700"))
MOTO = f"http://127.0.0.1:{BENCH_MOTO_PORT}"
DELAY_MS = 50


def run(cmd, env=None, check=True, cwd=None):
    """Runs a command (Terraform, setup steps); returns (seconds, None, stdout, stderr). With
    `check`, anything but exit 0 stops the run."""
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr.decode()[-2000:]}")
    return elapsed, None, done.stdout.decode(), done.stderr.decode()


def run_measured(cmd, env=None, check=True):
    """Like run(), with the peak RSS of the process read through os.wait4. With `check`, only exit
    0 passes: every plan this suite measures follows an apply of the same spec (the crowd is
    foreign), so `plan --detailed-exitcode` must find nothing to do; an exit 2 there is a
    converged plan that is not empty, a bug, not a figure."""
    started = time.perf_counter()
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    out_chunks, err_chunks = [], []
    import threading

    def drain(stream, sink):
        for chunk in iter(lambda: stream.read(65536), b""):
            sink.append(chunk)

    readers = [threading.Thread(target=drain, args=(process.stdout, out_chunks)), threading.Thread(target=drain, args=(process.stderr, err_chunks))]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    for reader in readers:
        reader.join()
    code = os.waitstatus_to_exitcode(status)
    stdout, stderr = b"".join(out_chunks).decode(), b"".join(err_chunks).decode()
    if check and code != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {code}:\n{stderr[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024.0, stdout, stderr


def sample(cmd, env, runs, warmup=1):
    """Median, min and max seconds over `runs` runs after `warmup` runs, and the peak RSS."""
    for _ in range(warmup):
        run_measured(cmd, env)
    times, peak = [], 0.0
    for _ in range(runs):
        elapsed, rss, _, _ = run_measured(cmd, env)
        times.append(elapsed)
        peak = max(peak, rss)
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "runs": runs, "rss_mb": peak}


class Proxy:
    """pipectl-proxy in front of the bench moto server."""

    def __init__(self, binary, delay_ms):
        self.process = subprocess.Popen([binary, "--upstream", MOTO, "--delay-ms", str(delay_ms)], stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline().strip()
        self.url = "http://" + line.split()[-1]

    def stats(self):
        with urllib.request.urlopen(self.url + "/__proxy/stats") as response:
            return json.loads(response.read())

    def reset(self):
        urllib.request.urlopen(urllib.request.Request(self.url + "/__proxy/reset", method="POST")).read()

    def stop(self):
        self.process.terminate()
        self.process.wait()


def reset_moto():
    urllib.request.urlopen(urllib.request.Request(MOTO + "/moto-api/reset", method="POST")).read()


def env_for(url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": url, "NO_COLOR": "1"})
    return env


def scale_out_spec(streams, buckets, subnets, groups):
    """A generated spec with many resources of the cheap kinds."""
    lines = ["version: 1", "pipeline: bench-scale", "region: us-east-1", "network:", "  vpc: {cidr: 10.80.0.0/16}", "  subnets:"]
    lines += [f"    - {{name: s{i}, cidr: 10.80.{i}.0/24, availability_zone: us-east-1{'abc'[i % 3]}}}" for i in range(subnets)]
    lines.append("  security_groups:")
    lines += [f"    - {{name: g{i}, ingress: [{{ports: {1000 + i}, cidr: 10.0.0.0/8}}]}}" for i in range(groups)]
    lines.append("buckets:")
    lines += [f"  - {{name: bench-scale-b{i}, versioning: true}}" for i in range(buckets)]
    lines.append("streams:")
    lines += [f"  - {{name: bench-scale-s{i}, shards: 1}}" for i in range(streams)]
    return "\n".join(lines) + "\n"


def crowd_account(buckets, streams, deliveries, roles):
    """Other teams' resources, created directly on moto (not by pipectl): half the buckets tagged
    for another pipeline, the rest untagged; streams, deliveries and roles likewise."""
    import boto3

    session = dict(region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test", endpoint_url=MOTO)
    s3, kinesis, firehose, iam = (boto3.client(name, **session) for name in ("s3", "kinesis", "firehose", "iam"))
    other = [{"Key": "pipectl:pipeline", "Value": "another-team"}]
    for i in range(buckets):
        s3.create_bucket(Bucket=f"crowd-bucket-{i}")
        if i % 2 == 0:
            s3.put_bucket_tagging(Bucket=f"crowd-bucket-{i}", Tagging={"TagSet": other})
    for i in range(streams):
        kinesis.create_stream(StreamName=f"crowd-stream-{i}", ShardCount=1)
    for i in range(deliveries):
        destination = {"RoleARN": "arn:aws:iam::123456789012:role/crowd", "BucketARN": "arn:aws:s3:::crowd-bucket-0"}
        tags = {"Tags": other} if i % 2 == 0 else {}
        firehose.create_delivery_stream(DeliveryStreamName=f"crowd-delivery-{i}", ExtendedS3DestinationConfiguration=destination, **tags)
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    for i in range(roles):
        iam.create_role(RoleName=f"crowd-role-{i}", Path="/crowd/", AssumeRolePolicyDocument=trust, Tags=other)


def git_revision():
    try:
        return subprocess.check_output(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], text=True).strip()
    except Exception:
        return "unknown"


def terraform_side_by_side(pipectl, runs, env_moto):
    """Plans and applies the same infrastructure with Terraform and with pipectl, against moto."""
    terraform = shutil.which("terraform")
    mirror = os.environ.get("PIPECTL_TF_MIRROR", "/opt/tf-plugins")
    if not terraform or not os.path.isdir(os.path.join(mirror, "registry.terraform.io", "hashicorp", "aws")):
        return {"skipped": f"Terraform or the hashicorp/aws provider mirror ({mirror}) is not on this machine"}
    work = tempfile.mkdtemp(prefix="pipectl-tf-")
    shutil.copy(os.path.join(ROOT, "benches", "terraform", "main.tf"), work)
    config = os.path.join(work, "terraformrc")
    with open(config, "w") as handle:
        handle.write(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n')
    tf_env = dict(env_moto)
    tf_env.update({"TF_CLI_CONFIG_FILE": config, "TF_IN_AUTOMATION": "1", "TF_VAR_endpoint": MOTO, "CHECKPOINT_DISABLE": "1"})
    run(["terraform", "init", "-input=false", "-no-color"], env=tf_env, cwd=work)
    spec = os.path.join(ROOT, "benches", "side-by-side.yaml")
    result = {}
    tf_apply, pipectl_apply, tf_plan, pipectl_plan = [], [], [], []
    for _ in range(runs):
        reset_moto()
        for state in ("terraform.tfstate", "terraform.tfstate.backup"):
            if os.path.exists(os.path.join(work, state)):
                os.remove(os.path.join(work, state))
        tf_apply.append(run(["terraform", "apply", "-auto-approve", "-input=false", "-no-color"], env=tf_env, cwd=work)[0])
        tf_plan.append(run(["terraform", "plan", "-input=false", "-no-color", "-detailed-exitcode"], env=tf_env, cwd=work, check=False)[0])
        reset_moto()
        pipectl_apply.append(run_measured([pipectl, "apply", "-f", spec, "--auto-approve"], env_moto)[0])
        pipectl_plan.append(run_measured([pipectl, "plan", "-f", spec, "--detailed-exitcode"], env_moto)[0])
    median = statistics.median
    result["terraform_apply"] = median(tf_apply)
    result["terraform_plan"] = median(tf_plan)
    result["pipectl_apply"] = median(pipectl_apply)
    result["pipectl_plan"] = median(pipectl_plan)
    result["plan_speedup"] = result["terraform_plan"] / result["pipectl_plan"]
    result["apply_speedup"] = result["terraform_apply"] / result["pipectl_apply"]
    result["terraform_version"] = run(["terraform", "version"], env=tf_env, cwd=work)[2].splitlines()[0]
    shutil.rmtree(work, ignore_errors=True)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="one quick pass with the debug build; writes nothing")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--crowded-only", action="store_true", help="only the empty- and crowded-account plans; prints, writes nothing")
    parser.add_argument("--bin-dir", default=None, help="where pipectl and pipectl-proxy are (default: target/release)")
    args = parser.parse_args()
    runs = 1 if args.smoke else max(args.runs, 5)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    bin_dir = args.bin_dir or os.path.join(target, "debug" if args.smoke else "release")
    pipectl, proxy_bin = os.path.join(bin_dir, "pipectl"), os.path.join(bin_dir, "pipectl-proxy")
    example = os.path.join(ROOT, "examples", "clickstream.yaml")
    results = {}

    direct = Proxy(proxy_bin, 0)
    slow = Proxy(proxy_bin, DELAY_MS)
    try:
        env_direct, env_slow = env_for(direct.url), env_for(slow.url)

        if args.crowded_only:
            results = crowded(pipectl, example, env_direct, env_slow, direct, runs, args.smoke)
            print(json.dumps(results, indent=1))
            return 0

        # 7. Start-up: validate needs no network.
        results["startup"] = sample([pipectl, "validate", "-f", example], env_direct, runs * 3, warmup=2)

        # 5. Apply of the reference example from empty, with 50 ms per request.
        reset_moto()
        elapsed, _, _, _ = run_measured([pipectl, "apply", "-f", example, "--auto-approve"], env_slow)
        apply_samples = [elapsed]
        for _ in range(runs - 1):
            run_measured([pipectl, "destroy", "-f", example, "--auto-approve", "--allow-destroy"], env_direct)
            reset_moto()
            apply_samples.append(run_measured([pipectl, "apply", "-f", example, "--auto-approve"], env_slow)[0])
        results["apply"] = {"median": statistics.median(apply_samples), "min": min(apply_samples), "max": max(apply_samples), "runs": len(apply_samples)}

        # 1 and 2. Plan of the applied reference example, without and with the delay.
        results["plan"] = sample([pipectl, "plan", "-f", example, "--detailed-exitcode"], env_direct, runs)
        results["plan_delayed"] = sample([pipectl, "plan", "-f", example, "--detailed-exitcode"], env_slow, runs)

        # 3. Requests per plan, by operation, as pipectl counts them and as the proxy saw them.
        direct.reset()
        _, _, stdout, _ = run_measured([pipectl, "plan", "-f", example, "--output", "json"], env_direct)
        results["plan_calls"] = json.loads(stdout)["api_calls"]
        results["plan_calls_proxy"] = direct.stats()["total"]
        _, _, stdout, _ = run_measured([pipectl, "validate", "-f", example], env_direct)
        results["reference_resources"] = int(stdout.split("(")[1].split()[0])

        # 6. scale: requests, and sequential round trips: the time the 50 ms delay adds, over 50 ms.
        scale_cmd = [pipectl, "scale", "--nodes", "20", "-f", example]
        reset_cmd = [pipectl, "scale", "--reset", "-f", example]
        direct_times, slow_times = [], []
        for _ in range(runs):
            direct_times.append(run_measured(scale_cmd, env_direct)[0])
            run_measured(reset_cmd, env_direct)
            slow.reset()
            slow_times.append(run_measured(scale_cmd, env_slow)[0])
            stats = slow.stats()
            run_measured(reset_cmd, env_direct)
        added = statistics.median(slow_times) - statistics.median(direct_times)
        results["scale"] = {"requests": stats["total"], "by_operation": stats["requests"], "seconds": statistics.median(slow_times), "round_trips": round(added * 1000 / DELAY_MS)}

        # 1c and 2c. The same plan on a crowded account (moto is reset before and after).
        results.update(crowded(pipectl, example, env_direct, env_slow, direct, runs, args.smoke))

        # 4. Scale-out: a generated spec of 300+ resources, planned with 50 ms per request.
        counts = (10, 10, 5, 5) if args.smoke else (100, 100, 50, 50)
        spec_path = os.path.join(tempfile.mkdtemp(prefix="pipectl-bench-"), "scale-out.yaml")
        with open(spec_path, "w") as handle:
            handle.write(scale_out_spec(*counts))
        reset_moto()
        run_measured([pipectl, "apply", "-f", spec_path, "--auto-approve"], env_direct)
        scale_runs = max(runs // 2, 1) if args.smoke else 5
        results["scale_out"] = sample([pipectl, "plan", "-f", spec_path, "--detailed-exitcode"], env_slow, scale_runs)
        # The same plan with no delay: the emulator's own processing time, a floor for the above.
        results["scale_out_direct"] = sample([pipectl, "plan", "-f", spec_path, "--detailed-exitcode"], env_direct, scale_runs)
        slow.reset()
        run_measured([pipectl, "plan", "-f", spec_path], env_slow)
        results["scale_out_requests"] = slow.stats()["total"]
        _, _, stdout, _ = run_measured([pipectl, "validate", "-f", spec_path], env_direct)
        results["scale_out"]["resources"] = int(stdout.split("(")[1].split()[0])
        reset_moto()

        if not args.smoke:
            results["terraform"] = terraform_side_by_side(pipectl, 3, env_for(MOTO))
    finally:
        direct.stop()
        slow.stop()

    report = render(results, args.smoke)
    print(report)
    if not args.smoke:
        with open(os.path.join(ROOT, "BENCHMARKS.md"), "w") as handle:
            handle.write(report)
    return 0


def crowded(pipectl, example, env_direct, env_slow, direct, runs, smoke):
    """The reference plan on an empty account and, in the same run, on a crowded one."""
    plan = [pipectl, "plan", "-f", example, "--detailed-exitcode"]
    reset_moto()
    run_measured([pipectl, "apply", "-f", example, "--auto-approve"], env_direct)
    results = {}
    for label in ("empty", "crowded"):
        if label == "crowded":
            crowd_account(*((20, 5, 2, 5) if smoke else CROWD))
        results[f"{label}_plan"] = sample(plan, env_direct, runs)
        results[f"{label}_plan_delayed"] = sample(plan, env_slow, runs)
        direct.reset()
        _, _, stdout, _ = run_measured([pipectl, "plan", "-f", example, "--output", "json"], env_direct)
        results[f"{label}_calls"] = json.loads(stdout)["api_calls"]
        results[f"{label}_calls_proxy"] = direct.stats()["total"]
    reset_moto()
    return results


# The crowded account: foreign buckets, streams, deliveries (moto allows 50 per region) and roles.
CROWD = (1000, 200, 40, 200)
# A converged plan costs at most this many requests per resource of the pipeline, whatever kinds
# it holds (issue 12; the per-kind counts are in benches/NOTES.md).
REQUESTS_PER_RESOURCE = 2
# The hand-written half of BENCHMARKS.md, appended to the figures on every run.
NOTES = os.path.join(ROOT, "benches", "NOTES.md")
# The operations of the scan moto forces on a plan: it does not index streams (benches/NOTES.md).
STREAM_SCAN = ("kinesis:ListStreams", "kinesis:ListTagsForStream")


def documented_chains():
    """The chains the plan and apply targets are bounded by, as benches/NOTES.md argues them:
    the plan's longest chain of dependent reads is the largest figure of the "sequential round
    trips" column of its per-kind table ("How a plan reads"), so that the bound of target 2 moves
    with the table; the longest create chain is the figure its text states in bold."""
    with open(NOTES) as handle:
        lines = handle.read().splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| kind |") and "sequential round trips" in line)
    column = [cell.strip() for cell in lines[header].strip("|").split("|")].index("sequential round trips")
    plan = []
    for line in lines[header + 2:]:
        if not line.startswith("|"):
            break
        plan.append(int(re.match(r"\d+", line.strip("|").split("|")[column].strip()).group()))
    create = re.search(r"longest create chain of the reference example is \*\*(\d+) round trips\*\*", " ".join(lines))
    return max(plan), int(create.group(1))


def render(results, smoke):
    ms = lambda seconds: f"{seconds * 1000:.0f} ms"
    spread = lambda s: f"{ms(s['median'])} ({ms(s['min'])}–{ms(s['max'])}, {s['runs']} runs)"
    plan_chain, create_chain = documented_chains()
    chain_bound = 1.25 * plan_chain * DELAY_MS / 1000 + 0.150
    create_bound = 1.2 * create_chain * DELAY_MS / 1000
    calls = sum(results["plan_calls"].values())
    scale = results["scale"]
    added = lambda delayed, direct: f"+{ms(delayed['median'] - direct['median'])} over no delay"
    scan = sum(results["crowded_calls"].get(op, 0) - results["empty_calls"].get(op, 0) for op in STREAM_SCAN)
    rows = [
        ("1. plan, reference example, no added delay", "≤ 300 ms", spread(results["plan"]), results["plan"]["median"] <= 0.300),
        (f"2. plan with {DELAY_MS} ms per request (longest chain of dependent reads: {plan_chain}, from the per-kind table below)", f"≤ 1.25 × {plan_chain} × {DELAY_MS} ms + 150 ms = {ms(chain_bound)}", f"{spread(results['plan_delayed'])}, {added(results['plan_delayed'], results['plan'])}", results["plan_delayed"]["median"] <= chain_bound),
        ("3. API calls per plan, reference example", f"≤ {REQUESTS_PER_RESOURCE} per resource (≤ {REQUESTS_PER_RESOURCE * results['reference_resources']} for {results['reference_resources']})", f"{calls} (proxy saw {results['plan_calls_proxy']}), {calls / results['reference_resources']:.2f} per resource", calls <= REQUESTS_PER_RESOURCE * results["reference_resources"]),
        (f"1c. plan, reference example, crowded account ({CROWD[0]} buckets, {CROWD[1]} streams, {CROWD[2]} deliveries, {CROWD[3]} roles)", "≤ empty + 5 requests, ≤ 1.2 × empty time", f"{sum(results['crowded_calls'].values())} requests (empty {sum(results['empty_calls'].values())}; {scan} of them the stream scan moto forces, see below), {spread(results['crowded_plan'])} (empty {ms(results['empty_plan']['median'])})", sum(results["crowded_calls"].values()) <= sum(results["empty_calls"].values()) + 5 and results["crowded_plan"]["median"] <= 1.2 * results["empty_plan"]["median"]),
        (f"2c. the same, {DELAY_MS} ms per request", f"≤ {ms(chain_bound)}", f"{spread(results['crowded_plan_delayed'])} (empty {ms(results['empty_plan_delayed']['median'])})", results["crowded_plan_delayed"]["median"] <= chain_bound),
        (f"4. plan of {results['scale_out']['resources']} resources, {DELAY_MS} ms per request", "≤ 2 s, ≤ 60 MB", f"{spread(results['scale_out'])}, peak RSS {results['scale_out']['rss_mb']:.0f} MB", results["scale_out"]["median"] <= 2.0 and results["scale_out"]["rss_mb"] <= 60),
        (f"4b. the same plan with no added delay ({results['scale_out_requests']} requests): moto's own time, a floor for 4", "—", spread(results["scale_out_direct"]), None),
        (f"5. apply, reference example from empty, {DELAY_MS} ms per request", f"≤ 1.2 × longest create chain ({create_chain} round trips, see below) = {ms(create_bound)}", spread(results["apply"]), results["apply"]["median"] <= create_bound),
        ("6. scale (no --wait)", "≤ 4 calls, ≤ 3 round trips", f"{scale['requests']} calls, {scale['round_trips']} round trips", scale["requests"] <= 4 and scale["round_trips"] <= 3),
        ("7. start-up: validate examples/clickstream.yaml", "≤ 20 ms", spread(results["startup"]), results["startup"]["median"] <= 0.020),
    ]
    verdict = lambda ok: "—" if ok is None else ("met" if ok else "**not met**")
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `benches/run.sh` on {datetime.date.today()} at commit {git_revision()}{' (smoke run)' if smoke else ''}.",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; moto 5.1.22 on loopback behind pipectl-proxy.",
        "Times are the median with min–max over the runs shown, after a warm-up run.",
        "",
        "| target | goal | measured | |",
        "|---|---|---|---|",
    ]
    lines += [f"| {name} | {goal} | {measured} | {verdict(ok)} |" for name, goal, measured, ok in rows]
    terraform = results.get("terraform")
    if terraform:
        lines += ["", "## Side by side with Terraform", ""]
        if "skipped" in terraform:
            lines.append(f"Skipped: {terraform['skipped']}.")
        else:
            lines += [
                f"The same infrastructure (`benches/side-by-side.yaml` and `benches/terraform/main.tf`), against the same moto server, median of 3; {terraform['terraform_version']} with hashicorp/aws from a local mirror.",
                "",
                "| | Terraform | pipectl | pipectl is | goal |",
                "|---|---|---|---|---|",
                f"| plan (no changes) | {ms(terraform['terraform_plan'])} | {ms(terraform['pipectl_plan'])} | {terraform['plan_speedup']:.1f}× faster | ≥ 20× |",
                f"| apply from empty | {ms(terraform['terraform_apply'])} | {ms(terraform['pipectl_apply'])} | {terraform['apply_speedup']:.1f}× faster | ≥ 5× |",
            ]
    lines += ["", "## Requests per plan of the reference example", "", "| operation | requests |", "|---|---|"]
    lines += [f"| {name} | {count} |" for name, count in sorted(results["plan_calls"].items())]
    lines += ["", "## Requests per plan of the reference example, empty and crowded account", "", "| operation | empty | crowded |", "|---|---|---|"]
    operations = sorted(set(results["empty_calls"]) | set(results["crowded_calls"]))
    lines += [f"| {name} | {results['empty_calls'].get(name, 0)} | {results['crowded_calls'].get(name, 0)} |" for name in operations]
    lines += ["", "## scale", "", "| operation | requests |", "|---|---|"]
    lines += [f"| {name} | {count} |" for name, count in sorted(scale["by_operation"].items())]
    # The notes quote this run's figures where they say `{measured:N}` (N: a row's number) and
    # list the rows not met where they say `{not_met}`, so that their text stays current.
    measured = {name.split(".")[0]: text for name, _, text, _ in rows}
    not_met = ", ".join(name.split(".")[0] for name, _, _, ok in rows if ok is False) or "none"
    with open(NOTES) as handle:
        notes = re.sub(r"\{measured:(\w+)\}", lambda match: measured[match.group(1)], handle.read().strip())
    lines += ["", notes.replace("{not_met}", not_met)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
