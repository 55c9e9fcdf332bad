using Paxos.Sample.Protocol;

namespace Paxos.Sample.Demo;

/// <summary>
/// A running cluster as the demo sees it — replica processes over UDP, or nodes in this process — so that the
/// writers, the progress display, the kill and the final check are the same code for both.
/// </summary>
internal interface IDemoCluster : IAsyncDisposable
{
    int Size { get; }

    /// <summary>Whether the replica is still running (it was not killed and did not exit).</summary>
    bool IsAlive(int replica);

    /// <summary>Opens a way to submit updates to the replica.</summary>
    /// <exception cref="IOException">The replica cannot be reached.</exception>
    Task<ISubmitter> ConnectAsync(int replica, CancellationToken cancellationToken);

    /// <summary>The replica's status, or null when it does not answer within <paramref name="timeout"/>. Called
    /// from one task at a time.</summary>
    Task<ReplicaStatusInfo?> TryStatusAsync(int replica, TimeSpan timeout, CancellationToken cancellationToken);

    /// <summary>What the replica is, for the display: <c>pid 1234</c>, say.</summary>
    string Describe(int replica);

    /// <summary>Kills the replica as a crash would: no goodbye to its peers or its clients.</summary>
    Task KillAsync(int replica);

    /// <summary>Starts a killed replica again and waits until it runs: from its data directory (it replays its log),
    /// or, kept in memory, empty and rebuilding from its peers.</summary>
    /// <exception cref="InvalidOperationException">It did not start.</exception>
    Task RestartAsync(int replica, CancellationToken cancellationToken);

    /// <summary>The updates the replica executed from sequence <paramref name="fromSequence"/> on, in order; null when it
    /// does not answer.</summary>
    Task<List<ExecutedEntry>?> TryHistoryAsync(int replica, long fromSequence, CancellationToken cancellationToken);
}
