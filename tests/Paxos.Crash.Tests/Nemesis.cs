using System.Diagnostics;
using System.Globalization;

namespace Paxos.Crash.Tests;

/// <summary>What the nemesis did.</summary>
/// <param name="Kills">Replicas killed with SIGKILL.</param>
/// <param name="LeaderKills">Of those, the leader.</param>
/// <param name="Restarts">Replicas restarted from their data directories.</param>
/// <param name="RestartsThatReplayed">Restarts after which the replica said it had replayed updates from its log.</param>
/// <param name="Pauses">SIGSTOP/SIGCONT pauses.</param>
/// <param name="LeaderPauses">Of those, of the leader.</param>
/// <param name="Events">What happened, one line each.</param>
internal sealed record NemesisReport(int Kills, int LeaderKills, int Restarts, int RestartsThatReplayed, int Pauses, int LeaderPauses, IReadOnlyList<string> Events)
{
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Kills} kill -9 ({LeaderKills} of the leader), each followed by a restart from the data directory ({RestartsThatReplayed} replayed executed updates from the log), {Pauses} SIGSTOP/SIGCONT pauses ({LeaderPauses} of the leader)");
}

/// <summary>
/// Crashes and freezes replicas at random while the writers write, one replica at a time so that a majority is
/// always up: it kills one with SIGKILL (the leader or any one), restarts it from its data directory after a short
/// random delay, or freezes one with SIGSTOP for a while and thaws it with SIGCONT. The seed fixes every choice
/// and delay; where a kill lands in the replica's work (mid-write, mid-fsync, mid-recovery) is up to the machine.
/// </summary>
internal sealed class Nemesis(CrashCluster cluster, int seed)
{
    private static readonly TimeSpan StatusTimeout = TimeSpan.FromMilliseconds(500);

    private readonly Random _random = new(seed);
    private readonly List<string> _events = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _kills;
    private int _leaderKills;
    private int _restarts;
    private int _restartsThatReplayed;
    private int _pauses;
    private int _leaderPauses;

    /// <summary>Acts until <paramref name="duration"/> has passed; the last action is always completed (a killed
    /// replica restarted, a frozen one thawed).</summary>
    public async Task<NemesisReport> RunAsync(TimeSpan duration, CancellationToken cancellationToken)
    {
        while (_clock.Elapsed < duration)
        {
            await Task.Delay(Between(200, 1500), cancellationToken);
            var roll = _random.Next(100);
            var leader = await FindLeaderAsync(cancellationToken);
            var target = roll < 35 && leader is { } l ? l : _random.Next(cluster.Size);
            if (roll < 70)
            {
                await KillAndRestartAsync(target, target == leader, cancellationToken);
            }
            else
            {
                await PauseAsync(target, target == leader, cancellationToken);
            }
        }

        return new NemesisReport(_kills, _leaderKills, _restarts, _restartsThatReplayed, _pauses, _leaderPauses, _events);
    }

    private async Task KillAndRestartAsync(int replica, bool isLeader, CancellationToken cancellationToken)
    {
        var pid = cluster.ProcessId(replica);
        await cluster.KillAsync(replica);
        _kills++;
        _leaderKills += isLeader ? 1 : 0;
        var down = Between(100, 2000);
        Say($"kill -9 r{replica}{(isLeader ? " (leader)" : string.Empty)} pid {pid}; restart in {down.TotalMilliseconds:0} ms");
        await Task.Delay(down, cancellationToken);
        await cluster.RestartAsync(replica, cancellationToken);
        _restarts++;

        // What it recovered, as it says; a replica that does not answer at once is asked no further.
        var storage = (await cluster.TryStatusAsync(replica, StatusTimeout, cancellationToken))?.Storage;
        _restartsThatReplayed += storage?.ReplayedUpdates > 0 ? 1 : 0;
        Say($"r{replica} restarted as pid {cluster.ProcessId(replica)}: {(storage is { } s ? $"{s.RecoveredRecords} log records read, {s.ReplayedUpdates} updates replayed" : "no status")}");
    }

    private async Task PauseAsync(int replica, bool isLeader, CancellationToken cancellationToken)
    {
        var held = Between(200, 3000);
        cluster.Pause(replica);
        _pauses++;
        _leaderPauses += isLeader ? 1 : 0;
        Say($"SIGSTOP r{replica}{(isLeader ? " (leader)" : string.Empty)} for {held.TotalMilliseconds:0} ms");
        try
        {
            await Task.Delay(held, cancellationToken);
        }
        finally
        {
            cluster.Resume(replica);
        }
    }

    /// <summary>The prepared leader with the highest view among the replicas that answer, if any.</summary>
    private async Task<int?> FindLeaderAsync(CancellationToken cancellationToken)
    {
        var statuses = await Task.WhenAll(Enumerable.Range(0, cluster.Size).Select(r => cluster.TryStatusAsync(r, StatusTimeout, cancellationToken)));
        return statuses.Where(s => s is { IsLeader: true }).OrderByDescending(s => s!.LastInstalled).FirstOrDefault()?.Id;
    }

    private TimeSpan Between(int minMillis, int maxMillis) => TimeSpan.FromMilliseconds(_random.Next(minMillis, maxMillis + 1));

    private void Say(string text) => _events.Add(string.Create(CultureInfo.InvariantCulture, $"{_clock.Elapsed.TotalSeconds,7:0.0}s {text}"));
}
