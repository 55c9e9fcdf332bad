using System.Globalization;
using Paxos.Sample.Protocol;

namespace Paxos.Sample.Demo;

/// <summary>What the demo does: how many replicas, updates and writers, whether it kills (and restarts) the leader,
/// and where the replicas keep their data (null: in memory).</summary>
internal sealed record DemoSettings(int Replicas, long Updates, int Writers, bool Kill, bool InProcess, string? DataRoot)
{
    public static readonly string[] Flags = ["no-kill", "in-process", "in-memory"];

    public static readonly string[] Options = ["replicas", "updates", "writers", "data-dir"];

    public const int MaxReplicas = 7;
    public const int MaxWriters = 64;

    /// <exception cref="UsageException">An option is out of range, or <c>--in-memory</c> comes with <c>--data-dir</c>.</exception>
    public static DemoSettings From(CommandOptions line)
    {
        if (line.Has("in-memory") && line.Has("data-dir"))
        {
            throw new UsageException("--in-memory and --data-dir contradict each other: choose one.");
        }

        return new DemoSettings(
            line.Int("replicas", 3, 1, MaxReplicas),
            line.Long("updates", 5000, 1, 10_000_000),
            line.Int("writers", 8, 1, MaxWriters),
            !line.Has("no-kill"),
            line.Has("in-process"),
            line.Has("in-memory") ? null : line.Text("data-dir") ?? DemoData.DefaultRoot);
    }

    /// <summary>Killing one replica leaves a majority only from three replicas up.</summary>
    public bool KillsLeader => Kill && Replicas >= 3;
}

/// <summary>
/// Runs the demo on a started cluster: waits for a leader, runs the writers while showing progress once a second,
/// kills the leader at 40 %, shows the next one being elected, restarts the killed replica once its successor has
/// ordered for a while (at 65 %) and shows it recover and catch up, then checks that every replica executed the same
/// updates in the same order — and every acknowledged update exactly once, where its answer said — and prints a summary.
/// </summary>
internal sealed class DemoRunner(IDemoCluster cluster, DemoSettings settings, DemoData? data, DemoConsole console)
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan StatusTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LeaderTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ConvergenceTimeout = TimeSpan.FromSeconds(30);

    private readonly ReplicaStatusInfo?[] _statuses = new ReplicaStatusInfo?[settings.Replicas];
    private readonly DemoEvents _events = new();

    /// <summary>Runs the demo; true when the final check passed.</summary>
    public async Task<bool> RunAsync(CancellationToken cancellationToken)
    {
        if (await WaitForLeaderAsync(cancellationToken) is not { } leader)
        {
            console.Say($"No leader was elected within {LeaderTimeout.TotalSeconds} s; giving up.");
            return false;
        }

        // Everything before this sequence number was executed before this run; this run's updates come after it.
        var baseline = _statuses.Min(s => s!.LastExecutedSequence);
        var writers = new DemoWriters(cluster, console, settings.Writers, settings.Updates, ((data?.Run ?? 1) * 1000L) + 1);
        var earlier = _statuses.Max(s => s!.Executed);
        console.Say($"leader elected: r{leader.Id} leads view {leader.LastInstalled}{(earlier > 0 ? Say($"; {earlier:N0} updates of earlier runs executed") : string.Empty)}; starting {settings.Writers} writers (client ids {writers.FirstClientId}-{writers.FirstClientId + settings.Writers - 1}) for {settings.Updates:N0} updates");
        var start = console.Elapsed;
        var running = writers.RunAsync(cancellationToken);
        await MonitorAsync(writers, running, cancellationToken);
        await running;
        var duration = console.Elapsed - start;
        if (_events.Restart is { } restart)
        {
            await restart;
        }

        var check = await CheckAsync(writers, baseline, cancellationToken);
        console.MuteReplicas();
        DemoSummary.Print(settings, writers, duration, _statuses, _events, check);
        return check.Passed && writers.Failures.Count == 0 && _events.RestartFailure is null;
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

    /// <summary>Until the writers finish: a progress line every second, the kill at 40 %, the successor, the restart
    /// at 65 %, and the restarted replica catching up.</summary>
    private async Task MonitorAsync(DemoWriters writers, Task running, CancellationToken cancellationToken)
    {
        var nextLine = console.Elapsed + TimeSpan.FromSeconds(1);
        var (lastCount, lastTime) = (0L, console.Elapsed);
        while (!running.IsCompleted)
        {
            var killDue = settings.KillsLeader && _events.Killed < 0;
            var restartDue = _events.Killed >= 0 && _events.SuccessorShown && _events.Restart is null;
            var milestone = killDue ? writers.KillPoint : restartDue ? writers.RestartPoint : running;
            await Task.WhenAny(running, Task.Delay(PollInterval, cancellationToken), milestone);
            if (killDue && writers.KillPoint.IsCompleted && Leader() is { } leader)
            {
                await KillAsync(leader, writers.Acknowledged);
            }

            if (restartDue && writers.RestartPoint.IsCompleted)
            {
                _events.Restart = RestartAsync(_events.Killed, cancellationToken);
            }

            await PollAsync(cancellationToken);
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
        _events.Killed = leader.Id;
        _events.KilledAt = console.Elapsed;
        console.Say($"KILLING the leader r{leader.Id} ({cluster.Describe(leader.Id)}) after {acknowledged:N0} acknowledged updates; its writers will move to other replicas");
        await cluster.KillAsync(leader.Id);
    }

    private async Task RestartAsync(int replica, CancellationToken cancellationToken)
    {
        var down = console.Elapsed - _events.KilledAt;
        console.Say(data is null
            ? $"RESTARTING r{replica} after {down.TotalSeconds:0.0} s down: in memory it comes back empty, and rebuilds its state from its peers before it votes again"
            : $"RESTARTING r{replica} after {down.TotalSeconds:0.0} s down, from its data directory: it replays its log, then catches up from its peers");
        try
        {
            await cluster.RestartAsync(replica, cancellationToken);
            _events.RestartedAt = console.Elapsed;
            console.Say($"r{replica} is running again ({cluster.Describe(replica)}), {(_events.RestartedAt - _events.KilledAt).TotalSeconds:0.0} s after the kill");
        }
        catch (InvalidOperationException exception)
        {
            _events.RestartFailure = exception.Message;
            console.Say($"r{replica} did not restart: {exception.Message}");
        }
    }

    private string Progress(long count, double rate)
    {
        var executed = string.Join("  ", Enumerable.Range(0, settings.Replicas).Select(r =>
            _statuses[r] is { } s ? Say($"r{r} {s.Executed:N0}{(s.IsRebuilding ? " (rebuilding)" : string.Empty)}")
            : r == _events.Killed && _events.Restart is { IsCompleted: false } ? $"r{r} restarting"
            : $"r{r} {(cluster.IsAlive(r) ? "?" : "dead")}"));
        var leader = Leader() is { } l ? $"r{l.Id}" : "none (electing)";
        return Say($"{count,9:N0}/{settings.Updates:N0} updates  {rate,8:N0}/s  leader {leader}  executed: {executed}");
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

        // The restarted replica has caught up once it executed as much as the leader.
        if (_events.RestartedAt > TimeSpan.Zero && !_events.CaughtUpShown
            && _statuses[_events.Killed] is { } restarted && Leader() is { } leader && restarted.Executed >= leader.Executed)
        {
            _events.CaughtUpShown = true;
            console.Say($"r{restarted.Id} caught up: {restarted.Executed:N0} updates executed, as many as the leader r{leader.Id} ({restarted.Storage.ReplayedUpdates:N0} executed at start, from its snapshot and its own log)");
        }

        if (_events.Killed >= 0 && !_events.SuccessorShown && Leader() is { } successor && successor.Id != _events.Killed)
        {
            _events.SuccessorShown = true;
            console.Say($"new leader: r{successor.Id} leads view {successor.LastInstalled}, {(console.Elapsed - _events.KilledAt).TotalSeconds:0.0} s after the kill");
        }
    }

    /// <summary>Waits (bounded) until every live replica reports the same executed count and digest, then compares
    /// their histories since <paramref name="baseline"/> with what the writers were told.</summary>
    private async Task<ConvergenceCheck> CheckAsync(DemoWriters writers, long baseline, CancellationToken cancellationToken)
    {
        var deadline = console.Elapsed + ConvergenceTimeout;
        while (true)
        {
            await PollAsync(cancellationToken);
            var live = Enumerable.Range(0, settings.Replicas).Where(cluster.IsAlive).ToArray();
            var answered = live.Select(r => _statuses[r]).Where(s => s is not null).Select(s => s!).ToArray();
            var converged = answered.Length == live.Length && answered.Length > 0
                && answered.All(s => s.Executed == answered[0].Executed && s.Digest == answered[0].Digest);
            if (converged || console.Elapsed >= deadline)
            {
                var problems = converged ? await CompareHistoriesAsync(live, writers, baseline, cancellationToken) : ["the replicas did not converge in time"];
                return new ConvergenceCheck(problems.Count == 0, live.Length, answered, writers.Acknowledged, problems);
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    private async Task<List<string>> CompareHistoriesAsync(int[] live, DemoWriters writers, long baseline, CancellationToken cancellationToken)
    {
        var histories = new List<ExecutedEntry>[live.Length];
        for (var i = 0; i < live.Length; i++)
        {
            histories[i] = await cluster.TryHistoryAsync(live[i], baseline + 1, cancellationToken)
                ?? throw new InvalidOperationException($"Replica r{live[i]} did not answer History.");
        }

        return HistoryCheck.Compare(live, histories, writers.Answers(), writers.FirstClientId, writers.Count);
    }

    private static string Say(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

/// <summary>What happened to the killed replica, as the monitor saw it.</summary>
internal sealed class DemoEvents
{
    public int Killed { get; set; } = -1;

    public TimeSpan KilledAt { get; set; }

    public bool SuccessorShown { get; set; }

    public Task? Restart { get; set; }

    public TimeSpan RestartedAt { get; set; }

    public string? RestartFailure { get; set; }

    public bool CaughtUpShown { get; set; }
}

/// <summary>The outcome of the final check across the live replicas.</summary>
internal sealed record ConvergenceCheck(bool Passed, int LiveReplicas, ReplicaStatusInfo[] Answered, long Acknowledged, IReadOnlyList<string> Problems);
