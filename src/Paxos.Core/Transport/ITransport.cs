using Paxos.Messages;

namespace Paxos.Transport;

/// <summary>
/// Moves messages between replicas. Delivery is unreliable by contract: a transport may
/// lose, duplicate, delay or reorder messages, and the protocol copes with all of it. A transport must
/// never block the replica, never throw on bad input from the network, and never deliver a message that
/// did not come from the replica it names as sender (to the extent its authentication allows).
/// </summary>
public interface ITransport : IAsyncDisposable
{
    /// <summary>Starts receiving: every message that arrives is handed to <paramref name="receiver"/>.</summary>
    /// <param name="receiver">Takes received messages; it returns quickly and never blocks.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    ValueTask StartAsync(ITransportReceiver receiver, CancellationToken cancellationToken = default);

    /// <summary>Queues <paramref name="message"/> for <paramref name="destination"/>. Never blocks: when the
    /// transport cannot keep up it drops the message and counts it.</summary>
    /// <param name="destination">Another replica of the cluster.</param>
    /// <param name="message">The message; immutable, so it may be queued for several destinations.</param>
    void Send(ReplicaId destination, PaxosMessage message);

    /// <summary>Sends everything queued since the last call. The node calls it once per output batch, which
    /// lets a transport pack one batch's messages to the same peer into as few datagrams as fit.</summary>
    void Flush();

    /// <summary>
    /// Whether more received input already waits to be handed over — the rest of the datagram being delivered, or
    /// another one queued — as far as the transport can tell. The node asks from inside
    /// <see cref="ITransportReceiver.Receive"/>, on the receiving thread, before it lets that thread wait for an
    /// fsync itself (which saves waking its storage thread, but holds up everything behind the message). True, the
    /// default, means "may be": the node then never blocks the thread.
    /// </summary>
    bool HasPendingInput => true;

    /// <summary>
    /// The replica and cluster this transport was built for, as far as it knows them. <see cref="PaxosNode"/> refuses
    /// to be built on a transport whose identity disagrees with its options (another replica id, cluster size or
    /// cluster id, or a smaller message size). Null, the default, means the transport does not say: the node then
    /// cannot check it, so a transport that knows these values should return them.
    /// </summary>
    TransportIdentity? Identity => null;
}

/// <summary>Takes the messages a transport receives.</summary>
public interface ITransportReceiver
{
    /// <summary>Hands over one received message. Must return quickly and never block the transport.</summary>
    /// <param name="message">The message, already checked by the transport's codec.</param>
    void Receive(PaxosMessage message);
}
