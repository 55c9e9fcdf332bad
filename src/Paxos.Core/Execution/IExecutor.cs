namespace Paxos;

/// <summary>
/// The application's state machine. A replica calls <see cref="Execute"/> for every ordered update,
/// exactly once, in sequence order, with no update skipped, on one thread at a time.
/// </summary>
/// <remarks>
/// <para>Every replica of a cluster must start from the same initial state and compute the same result
/// from the same updates: no clocks, no randomness, no iteration over hashed collections. Replicas
/// stay identical because they apply the same updates in the same order.</para>
/// <para>An update executes before the replica's own copy of its ordering is on disk (ordering is
/// already final: a majority has it), so an executor holding state in memory is rebuilt after a
/// restart by replaying the log from the beginning.</para>
/// <para>Failures: an exception thrown by <see cref="Execute"/> stops the replica (fail-stop), since its state can no
/// longer be trusted to match its peers' — that is the default, and the right answer to a bug or a broken disk. To
/// refuse an update the executor throws <see cref="UpdateRejectedException"/> instead: the update counts as executed
/// (its slot and its client's timestamp are consumed, the client table records the rejection and answers a retry
/// with it), the client gets the exception's error bytes (<see cref="Protocol.ReplyStatus.Rejected"/>;
/// <see cref="SubmitFailure.Rejected"/> from <see cref="PaxosNode.SubmitAsync"/>), and the replica goes on. Every
/// replica executes the same update against the same state, so the rejection must be the executor's deterministic
/// decision — a function of the update and the state, never of a clock, a file or an outside service — and must leave
/// the state as every other replica leaves it (docs/protocol-notes.md, "Executor failures and rejections").</para>
/// <para>Session registrations (<see cref="ClientSession"/>) are ordered like updates but never reach
/// <see cref="Execute"/>; sequence numbers skip their slots as they skip no-ops.</para>
/// </remarks>
public interface IExecutor
{
    /// <summary>Applies one ordered update and returns the reply for its client.</summary>
    /// <param name="update">The update, with its sequence number.</param>
    /// <returns>The reply the client receives. It is kept in the replica's client table so a
    /// re-submitted update is answered without executing it again; do not change it afterwards.</returns>
    /// <exception cref="UpdateRejectedException">The executor rejects the update, deterministically: the client gets
    /// its error bytes and the update counts as executed. Any other exception stops the replica.</exception>
    ReadOnlyMemory<byte> Execute(in OrderedUpdate update);
}
