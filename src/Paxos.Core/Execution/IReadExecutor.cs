namespace Paxos;

/// <summary>
/// The read side of an application's state machine: an <see cref="IExecutor"/> that also implements this interface can
/// answer linearizable reads (<see cref="PaxosNode.ReadAsync"/>) without ordering them as updates.
/// </summary>
/// <remarks>
/// <para><see cref="Read"/> is called on the replica's thread, between two <see cref="IExecutor.Execute"/> calls, so it
/// sees the state after some prefix of the ordered updates and needs no locking against them. That prefix holds every
/// update acknowledged to any client before the read began (docs/protocol-notes.md, "Linearizable reads"); it may hold
/// more, which linearizability allows.</para>
/// <para>A read must not change the state: replicas stay identical only through ordered updates. An exception thrown by
/// <see cref="Read"/> fails that read only; the replica keeps running.</para>
/// </remarks>
public interface IReadExecutor
{
    /// <summary>Answers one query against the current state.</summary>
    /// <param name="query">The application's query, as the client sent it.</param>
    /// <returns>The answer. The caller may keep it, so return memory that is not reused.</returns>
    ReadOnlyMemory<byte> Read(ReadOnlySpan<byte> query);
}

/// <summary>Why a linearizable read failed.</summary>
public enum ReadFailure
{
    /// <summary>The leader this replica relied on lost its view before the read was confirmed; retry (at
    /// the leader named by the hint, if any).</summary>
    NotLeader = 1,

    /// <summary>The replica knows no working leader (a view change is under way); retry later.</summary>
    LeaderUnknown = 2,

    /// <summary>The read was not served within its time limit (<see cref="PaxosOptions.ReadTimeout"/>).</summary>
    Timeout = 3,

    /// <summary>Too many reads are pending (<see cref="PaxosOptions.MaxPendingReads"/>); retry later.</summary>
    Overloaded = 4,

    /// <summary>The node is stopping or stopped.</summary>
    Stopped = 5,

    /// <summary>The executor does not implement <see cref="IReadExecutor"/>.</summary>
    NotSupported = 6,

    /// <summary>The executor's <see cref="IReadExecutor.Read"/> threw; the exception is the inner one.</summary>
    ReadFailed = 7,

    /// <summary>The node stopped after a broken invariant or a failing executor (fail-stop).</summary>
    Faulted = 8,
}
