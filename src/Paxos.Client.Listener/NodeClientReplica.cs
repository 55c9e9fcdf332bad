namespace Paxos.Client.Listener;

/// <summary>The listener's view of a <see cref="PaxosNode"/>: its four operations, one for one.</summary>
internal sealed class NodeClientReplica(PaxosNode node) : IClientReplica
{
    public ReplicaStatus Status => node.Status;

    public Task<ClientId> RegisterSessionAsync(long registrationNonce, CancellationToken cancellationToken) =>
        node.RegisterSessionAsync(registrationNonce, cancellationToken);

    public Task<ReadOnlyMemory<byte>> SubmitAsync(ClientUpdate update, CancellationToken cancellationToken) =>
        node.SubmitAsync(update, cancellationToken);

    public Task<ReadOnlyMemory<byte>> ReadAsync(ReadOnlyMemory<byte> query, CancellationToken cancellationToken) =>
        node.ReadAsync(query, cancellationToken);
}
