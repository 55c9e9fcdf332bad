namespace Paxos.Hosting;

/// <summary>A read on its way through the node: the query and the task to complete.</summary>
internal sealed class PendingRead(ReadOnlyMemory<byte> query)
{
    public ReadOnlyMemory<byte> Query { get; } = query;

    public TaskCompletionSource<ReadOnlyMemory<byte>> Completion { get; } = new();
}
