namespace Paxos.Transport.Udp.Tests.Support;

/// <summary>An executor that records what it executed, in order, for comparing replicas; safe to read from the
/// test thread while the node executes.</summary>
internal sealed class OrderRecorder : IExecutor
{
    private readonly Lock _lock = new();
    private readonly List<Executed> _executed = [];

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _executed.Count;
            }
        }
    }

    public Executed[] Snapshot()
    {
        lock (_lock)
        {
            return [.. _executed];
        }
    }

    public ReadOnlyMemory<byte> Execute(in OrderedUpdate update)
    {
        lock (_lock)
        {
            _executed.Add(new Executed(update.Sequence.Value, update.ClientId.Value, update.Timestamp));
        }

        return BitConverter.GetBytes(update.Sequence.Value);
    }

    public readonly record struct Executed(long Sequence, long Client, long Timestamp);
}
