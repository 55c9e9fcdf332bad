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
/// restart by replaying the log from the beginning. An exception thrown by <see cref="Execute"/>
/// stops the replica (fail-stop), since its state can no longer be trusted to match its peers'.</para>
/// </remarks>
public interface IExecutor
{
    /// <summary>Applies one ordered update and returns the reply for its client.</summary>
    /// <param name="update">The update, with its sequence number.</param>
    /// <returns>The reply the client receives. It is kept in the replica's client table so a
    /// re-submitted update is answered without executing it again; do not change it afterwards.</returns>
    ReadOnlyMemory<byte> Execute(in OrderedUpdate update);
}
