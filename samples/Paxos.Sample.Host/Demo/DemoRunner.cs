using System.Globalization;
using Paxos.Sample.Protocol;

namespace Paxos.Sample.Demo;

/// <summary>What the demo does: how many replicas, updates and writers, and whether it kills the leader.</summary>
internal sealed record DemoSettings(int Replicas, long Updates, int Writers, bool Kill, bool InProcess)
{
    public static readonly string[] Flags = ["no-kill", "in-process"];

    public static readonly string[] Options = ["replicas", "updates", "writers"];

    public const int MaxReplicas = 7;
    public const int MaxWriters = 64;

    public static DemoSettings From(CommandOptions line) => new(
        line.Int("replicas", 3, 1, MaxReplicas),
        line.Long("updates", 5000, 1, 10_000_000),
        line.Int("writers", 8, 1, MaxWriters),
        !line.Has("no-kill"),
        line.Has("in-process"));

    /// <summary>Killing one replica leaves a majority only from three replicas up.</summary>
    public bool KillsLeader => Kill && Replicas >= 3;
}

/// <summary>
/// Runs the demo on a started cluster: waits for a leader, runs the writers while showing progress once a second,
/// kills the leader midway and shows the next one being elected, then checks that every live replica executed
/// the same updates in the same order and prints a summary.
/// </summary>
internal sealed class DemoRunner(IDemoCluster cluster, DemoSettings settings, DemoConsole console)
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan StatusTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LeaderTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ConvergenceTimeout = TimeSpan.FromSeconds(20);

    private readonly ReplicaStatusInfo?[] _statuses = new ReplicaStatusInfo?[settings.Replicas];
    private int _killed = -1;
    private TimeSpan _killedAt;
    private bool _successorShown;

    /// <summary>Runs the demo; true when the final check passed.</summary>
    public async Task<bool> RunAsync(CancellationToken cancellationToken)
    {
        if (await WaitForLeaderAsync(cancellationToken) is not { } leader)
        {
            console.Say($"No leader was elected within {LeaderTimeout.TotalSeconds} s; giving up.");
            return false;
        }

        console.Say($"leader elected: r{leader.Id} leads view {leader.LastInstalled}; starting {settings.Writers} writers for {settings.Updates:N0} updates");
        var writers = new DemoWriters(cluster, console, settings.Writers, settings.Updates);
        var start = console.Elapsed;
        var running = writers.RunAsync(cancellationToken);
        await MonitorAsync(writers, running, cancellationToken);
        await running;
        var duration = console.Elapsed - start;

        var check = await CheckAsync(writers.Acknowledged, cancellationToken);
        DemoSummary.Print(settings, writers, duration, _statuses, _killed, check);
        return check.Passed && writers.Failures.Count == 0;
    }

    private async Task<ReplicaStatusInfo?> WaitForLeaderAsync(CancellationToken cancellationToken)
    {
        var deadline = console.Elapsed + LeaderTimeout;
        while (console.Elapsed < deadline)
        {
            await PollAsync(cancellationToken);
            var live = _statuses.Where(s => s is not null).Select(s => s!).ToArray();
            if (live.Length == settings.Replicas
                && live.All(s => s.State != ReplicaState.LeaderElection && s.LastInstalled == live[0].LastInstalled && s.Leader == live[0].Leader)
                && live.FirstOrDefault(s => s.IsLeader) is { } leader)
            {
                return leader;
            }

            await Task.Delay(50, cancellationToken);
        }

        return null;
    }

    /// <summary>Until the writers finish: a progress line every second, the kill at half-way, and the successor.</summary>
    private async Task MonitorAsync(DemoWriters writers, Task running, CancellationToken cancellationToken)
    {
        var nextLine = console.Elapsed + TimeSpan.FromSeconds(1);
        var (lastCount, lastTime) = (0L, console.Elapsed);
        while (!running.IsCompleted)
        {
            var killDue = settings.KillsLeader && _killed < 0;
            await Task.WhenAny(running, Task.Delay(PollInterval, cancellationToken), killDue ? writers.Halfway : Task.Delay(Timeout.Infinite, cancellationToken));
            if (killDue && writers.Halfway.IsCompleted && Leader() is { } leader)
            {
                await KillAsync(leader, writers.Acknowledged);
            }

            await PollAsync(cancellationToken);

            if (_killed >= 0 && !_successorShown && Leader() is { } successor && successor.Id != _killed)
            {
                _successorShown = true;
                console.Say($"new leader: r{successor.Id} leads view {successor.LastInstalled}, {(console.Elapsed - _killedAt).TotalSeconds:0.0} s after the kill");
            }

            if (console.Elapsed >= nextLine && !running.IsCompleted)
            {
                var (count, now) = (writers.Acknowledged, console.Elapsed);
                console.Say(Progress(count, (count - lastCount) / (now - lastTime).TotalSeconds));
                (lastCount, lastTime, nextLine) = (count, now, nextLine + TimeSpan.FromSeconds(1));
            }
        }
    }

    private async Task KillAsync(ReplicaStatusInfo leader, long acknowledged)
    {
        _killed = leader.Id;
        _killedAt = console.Elapsed;
        console.Say($"KILLING the leader r{leader.Id} ({cluster.Describe(leader.Id)}) after {acknowledged:N0} acknowledged updates; its writers will move to other replicas");
        await cluster.KillAsync(leader.Id);
    }

    private string Progress(long count, double rate)
    {
        var executed = string.Join("  ", Enumerable.Range(0, settings.Replicas).Select(r =>
            _statuses[r] is { } s ? string.Create(CultureInfo.InvariantCulture, $"r{r} {s.Executed:N0}") : $"r{r} {(cluster.IsAlive(r) ? "?" : "dead")}"));
        var leader = Leader() is { } l ? $"r{l.Id}" : "none (electing)";
        return string.Create(CultureInfo.InvariantCulture,
            $"{count,9:N0}/{settings.Updates:N0} updates  {rate,8:N0}/s  leader {leader}  executed: {executed}");
    }

    /// <summary>The prepared leader with the highest view among the replicas that answered.</summary>
    private ReplicaStatusInfo? Leader() =>
        _statuses.Where(s => s is { IsLeader: true }).OrderByDescending(s => s!.LastInstalled).FirstOrDefault();

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        for (var r = 0; r < settings.Replicas; r++)
        {
            _statuses[r] = await cluster.TryStatusAsync(r, StatusTimeout, cancellationToken);
        }
    }

    /// <summary>Waits (bounded) until every live replica reports the same executed count and digest, at least
    /// as many as were acknowledged.</summary>
    private async Task<ConvergenceCheck> CheckAsync(long acknowledged, CancellationToken cancellationToken)
    {
        var deadline = console.Elapsed + ConvergenceTimeout;
        while (true)
        {
            await PollAsync(cancellationToken);
            var live = Enumerable.Range(0, settings.Replicas).Where(cluster.IsAlive).ToArray();
            var answered = live.Select(r => _statuses[r]).Where(s => s is not null).Select(s => s!).ToArray();
            var converged = answered.Length == live.Length && answered.Length > 0
                && answered.All(s => s.Executed == answered[0].Executed && s.Digest == answered[0].Digest)
                && answered[0].Executed >= acknowledged;
            if (converged || console.Elapsed >= deadline)
            {
                var exact = converged && answered[0].Executed == acknowledged;
                return new ConvergenceCheck(converged && exact, live.Length, answered, acknowledged);
            }

            await Task.Delay(100, cancellationToken);
        }
    }
}

/// <summary>The outcome of the final check across the live replicas.</summary>
internal sealed record ConvergenceCheck(bool Passed, int LiveReplicas, ReplicaStatusInfo[] Answered, long Acknowledged);
