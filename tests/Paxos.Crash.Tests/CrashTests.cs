using System.Globalization;
using System.Text;
using Paxos.Sample;
using Paxos.Sample.Protocol;

namespace Paxos.Crash.Tests;

/// <summary>
/// TESTING.md level 4: a 3-replica UDP cluster of real processes (the sample host, each replica with its own
/// write-ahead log) under load from several writers, while a seeded nemesis kills replicas with SIGKILL and restarts
/// them from their data directories, and freezes them with SIGSTOP/SIGCONT — one replica at a time, so a majority
/// stays up. Afterwards, with every replica up: every replica's history is a prefix of one history, nothing executed
/// twice, and every acknowledged update is there, at the sequence its reply named.
/// </summary>
/// <remarks>
/// <c>PAXOS_CRASH_SEED</c> replaces the fixed seed. The soak, <c>PAXOS_CRASH_SOAK_SECONDS=600 dotnet test
/// tests/Paxos.Crash.Tests --filter TestCategory=Soak</c>, runs the nemesis for as long as asked (with a random seed
/// unless <c>PAXOS_CRASH_SEED</c> is set); an odd seed runs the replicas with LeaderSendsAccept and inline
/// completions, an even one in the default mode, as the bounded test does. A failure keeps the run's directory — the replicas' data directories and
/// logs, the nemesis's events, what was acknowledged and what every replica executed — and names it.
/// </remarks>
[TestFixture]
[NonParallelizable]
public sealed class CrashTests
{
    private const int DefaultSeed = 20_261_127;
    private const int Replicas = 3;
    private const int Writers = 8;

    private static readonly TimeSpan NemesisTime = TimeSpan.FromSeconds(45);
    private static readonly TimeSpan LeaderTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ConvergenceTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StatusTimeout = TimeSpan.FromSeconds(2);

    [Test]
    public async Task No_acknowledged_update_is_lost_when_replicas_are_killed_paused_and_restarted()
    {
        await RunAsync(SeedFromEnvironment() ?? DefaultSeed, NemesisTime, leaderSendsAccept: false);
    }

    [Test]
    [Category("Soak")]
    public async Task Soak()
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable("PAXOS_CRASH_SOAK_SECONDS"), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds <= 0)
        {
            Assert.Ignore("Set PAXOS_CRASH_SOAK_SECONDS to run the soak.");
        }

        var seed = SeedFromEnvironment() ?? Random.Shared.Next();
        await RunAsync(seed, TimeSpan.FromSeconds(seconds), leaderSendsAccept: seed % 2 != 0);
    }

    /// <param name="leaderSendsAccept">Run the replicas with <c>--leader-sends-accept --inline-completions</c> (the
    /// leader's write in parallel with its followers', and answers completed on the node's threads) instead of the
    /// default mode. The soak takes it from the seed: odd seeds run it.</param>
    private static async Task RunAsync(int seed, TimeSpan nemesisTime, bool leaderSendsAccept)
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("The nemesis sends Linux signals.");
        }

        var root = Path.Combine(Path.GetTempPath(), string.Create(CultureInfo.InvariantCulture, $"paxos-crash-{seed}-{Guid.NewGuid().ToString("N")[..8]}"));
        string[] mode = leaderSendsAccept ? ["--leader-sends-accept", "--inline-completions"] : [];
        TestContext.Progress.WriteLine($"crash test: seed {seed}, nemesis for {nemesisTime.TotalSeconds:0} s, {(leaderSendsAccept ? "LeaderSendsAccept with inline completions" : "default mode")}, data in {root}");
        using var limit = new CancellationTokenSource(nemesisTime + LeaderTimeout + DrainTimeout + ConvergenceTimeout + TimeSpan.FromSeconds(60));
        var passed = false;
        // Snapshots every 2,000 updates (1,000 retained), so that kill -9 strikes with compaction on: snapshots being
        // written, log segments released behind them, restarts from a snapshot and the log after it.
        var cluster = await CrashCluster.StartAsync(root, Replicas, [.. mode, "--snapshot-every", "2000"], limit.Token);
        try
        {
            var run = await RunNemesisUnderLoadAsync(cluster, seed, nemesisTime, limit.Token);
            passed = await CheckAsync(cluster, run, seed, limit.Token);
        }
        catch (Exception exception) when (!passed && Kept(root, seed, exception))
        {
            throw; // Never reached: Kept only reports.
        }
        finally
        {
            await cluster.DisposeAsync();
            if (passed)
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    /// <summary>Writers and the nemesis together; then every replica up again, and the writers' last updates answered.</summary>
    private static async Task<CrashRun> RunNemesisUnderLoadAsync(CrashCluster cluster, int seed, TimeSpan nemesisTime, CancellationToken cancellationToken)
    {
        await WaitForLeaderAsync(cluster, cancellationToken);
        var writers = new CrashWriters(cluster, Writers);
        var writing = writers.RunAsync(cancellationToken);
        var nemesis = await new Nemesis(cluster, seed).RunAsync(nemesisTime, cancellationToken);
        await cluster.HealAsync(cancellationToken);
        writers.StopIssuing();
        var drained = await Task.WhenAny(writing, Task.Delay(DrainTimeout, cancellationToken)) == writing;
        var statuses = drained ? await WaitForConvergenceAsync(cluster, writers, cancellationToken) : null;
        return new CrashRun(writers, nemesis, drained, statuses);
    }

    /// <summary>Fetches every replica's history and checks the properties; on failure keeps the run's directory.</summary>
    private static async Task<bool> CheckAsync(CrashCluster cluster, CrashRun run, int seed, CancellationToken cancellationToken)
    {
        var problems = new List<string>(run.Writers.Anomalies);
        var histories = new List<ExecutedEntry>[cluster.Size];
        if (!run.Drained)
        {
            problems.Add($"the writers' last updates were not all answered within {DrainTimeout.TotalSeconds} s of the heal");
        }
        else if (run.Statuses is null)
        {
            problems.Add($"the replicas did not reach the same executed count and digest within {ConvergenceTimeout.TotalSeconds} s of the heal");
        }

        for (var r = 0; r < cluster.Size; r++)
        {
            histories[r] = await cluster.HistoryAsync(r, cancellationToken);
        }

        var acknowledged = run.Writers.Acknowledged.ToList();
        problems.AddRange(HistoryChecks.PrefixesOfOneHistory(histories));
        problems.AddRange(HistoryChecks.IncreasingSequences(histories));
        problems.AddRange(HistoryChecks.ExactlyOnce(histories));
        problems.AddRange(HistoryChecks.AcknowledgedPresent(histories, acknowledged));
        problems.AddRange(HistoryChecks.OnlyAcknowledgedInClientOrder(histories, acknowledged));

        var summary = string.Create(CultureInfo.InvariantCulture,
            $"seed {seed}: {run.Nemesis}; {acknowledged.Count:N0} updates acknowledged to {Writers} writers ({run.Writers.Resubmissions:N0} re-submissions); executed per replica: {string.Join(", ", histories.Select((h, r) => $"r{r} {h.Count:N0}"))}");
        TestContext.Progress.WriteLine(summary);
        TestContext.Out.WriteLine(summary);
        if (problems.Count > 0)
        {
            KeepArtifacts(cluster.Root, run, acknowledged, histories, problems);
        }

        problems.Should().BeEmpty($"the cluster must lose no acknowledged update and agree on one history ({summary}; PAXOS_CRASH_SEED={seed} replays the nemesis's choices; the run's data directories, logs and histories are kept in {cluster.Root})");
        run.Nemesis.Kills.Should().BePositive("the nemesis must have killed replicas (seed {0})", seed);
        run.Nemesis.RestartsThatReplayed.Should().BePositive("a replica restarted under load recovers what it executed from its log (seed {0})", seed);
        run.Nemesis.Pauses.Should().BePositive("the nemesis must have paused replicas (seed {0})", seed);
        acknowledged.Should().NotBeEmpty("the writers must have been answered (seed {0})", seed);
        return true;
    }

    private static async Task WaitForLeaderAsync(CrashCluster cluster, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + LeaderTimeout;
        while (DateTime.UtcNow < deadline)
        {
            var statuses = await StatusesAsync(cluster, cancellationToken);
            if (statuses.Any(s => s is { IsLeader: true }) && statuses.All(s => s is { State: not ReplicaState.LeaderElection }))
            {
                return;
            }

            await Task.Delay(50, cancellationToken);
        }

        Assert.Fail($"No leader was elected within {LeaderTimeout.TotalSeconds} s of the start.");
    }

    /// <summary>Waits until every replica answers with the same executed count and digest, covering at least every
    /// acknowledged update; null if that does not happen within <see cref="ConvergenceTimeout"/>.</summary>
    private static async Task<ReplicaStatusInfo[]?> WaitForConvergenceAsync(CrashCluster cluster, CrashWriters writers, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + ConvergenceTimeout;
        while (DateTime.UtcNow < deadline)
        {
            var statuses = await StatusesAsync(cluster, cancellationToken);
            if (statuses.All(s => s is not null) && statuses.Select(s => (s!.Executed, s.Digest)).Distinct().Count() == 1
                && statuses[0]!.Executed >= writers.Acknowledged.Count)
            {
                return statuses!;
            }

            await Task.Delay(100, cancellationToken);
        }

        return null;
    }

    private static Task<ReplicaStatusInfo?[]> StatusesAsync(CrashCluster cluster, CancellationToken cancellationToken) =>
        Task.WhenAll(Enumerable.Range(0, cluster.Size).Select(r => cluster.TryStatusAsync(r, StatusTimeout, cancellationToken)));

    /// <summary>Writes what the run saw beside the replicas' directories and logs, which stay.</summary>
    private static void KeepArtifacts(string root, CrashRun run, List<Acknowledged> acknowledged, List<ExecutedEntry>[] histories, List<string> problems)
    {
        File.WriteAllLines(Path.Combine(root, "problems.txt"), problems);
        File.WriteAllLines(Path.Combine(root, "nemesis.txt"), run.Nemesis.Events);
        File.WriteAllLines(Path.Combine(root, "acknowledged.csv"),
            ["client,timestamp,sequence", .. acknowledged.OrderBy(a => a.Sequence).Select(a => Csv($"{a.ClientId},{a.Timestamp},{a.Sequence}"))]);
        for (var r = 0; r < histories.Length; r++)
        {
            var text = new StringBuilder("sequence,client,timestamp\n");
            foreach (var entry in histories[r])
            {
                text.Append(Csv($"{entry.Sequence},{entry.ClientId},{entry.Timestamp}\n"));
            }

            File.WriteAllText(Path.Combine(root, $"history-{CrashCluster.Name(r)}.csv"), text.ToString());
        }

        TestContext.Progress.WriteLine($"crash test FAILED; kept {root}");
    }

    /// <summary>Says where the failed run's directory is kept; false, so the exception goes on.</summary>
    private static bool Kept(string root, int seed, Exception exception)
    {
        TestContext.Progress.WriteLine($"crash test (seed {seed}) failed with {exception.GetType().Name}; the replicas' data directories and logs are kept in {root}");
        return false;
    }

    private static int? SeedFromEnvironment() =>
        int.TryParse(Environment.GetEnvironmentVariable("PAXOS_CRASH_SEED"), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seed) ? seed : null;

    private static string Csv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>What the run under the nemesis left: the writers, what the nemesis did, whether the writers finished,
    /// and the replicas' converged statuses (null if they did not converge).</summary>
    private sealed record CrashRun(CrashWriters Writers, NemesisReport Nemesis, bool Drained, ReplicaStatusInfo[]? Statuses);
}
