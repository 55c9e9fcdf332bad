using System.Collections.Concurrent;
using Paxos.Messages;

namespace Paxos.Transport.Udp.Tests.Support;

/// <summary>Keeps every message a transport hands over, in order.</summary>
public sealed class RecordingReceiver : ITransportReceiver
{
    private readonly ConcurrentQueue<PaxosMessage> _messages = new();

    public int Count => _messages.Count;

    public PaxosMessage[] Messages => [.. _messages];

    public void Receive(PaxosMessage message) => _messages.Enqueue(message);
}
