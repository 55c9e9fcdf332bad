namespace Paxos;

/// <summary>
/// An update bound to its final place in the global order, as the executor receives it.
/// </summary>
/// <param name="Sequence">The update's global sequence number. Sequence numbers reach the executor in
/// increasing order; slots that hold the protocol's no-ops are skipped, so numbers may jump.</param>
/// <param name="ClientId">The client that issued the update.</param>
/// <param name="Timestamp">The client's timestamp for the update.</param>
/// <param name="Origin">The replica the client submitted the update to.</param>
/// <param name="Payload">The application's bytes.</param>
public readonly record struct OrderedUpdate(
    SequenceNumber Sequence,
    ClientId ClientId,
    long Timestamp,
    ReplicaId Origin,
    ReadOnlyMemory<byte> Payload);
