namespace Paxos.Client.Listener;

/// <summary>
/// What the listener needs of a replica: session registration, submission, reads and status. <see cref="PaxosNode"/>
/// provides all four (through an adapter); the seam lets the listener's own tests run against an
/// in-memory replica too.
/// </summary>
/// <remarks>Failures are <see cref="PaxosSubmitException"/>s where the node raises them; any other exception becomes
/// an <c>Unavailable</c> answer. None of the calls may block: each returns a task.</remarks>
internal interface IClientReplica
{
    /// <summary>The replica's state, for its id and the leader it knows.</summary>
    ReplicaStatus Status { get; }

    /// <summary>Registers a session through the log; the same nonce always yields the same session id.</summary>
    Task<ClientId> RegisterSessionAsync(long registrationNonce, CancellationToken cancellationToken);

    /// <summary>Submits an update under a session and returns the executor's reply.</summary>
    Task<ReadOnlyMemory<byte>> SubmitAsync(ClientUpdate update, CancellationToken cancellationToken);

    /// <summary>A linearizable read of the executor's state.</summary>
    Task<ReadOnlyMemory<byte>> ReadAsync(ReadOnlyMemory<byte> query, CancellationToken cancellationToken);
}
