namespace Paxos.Hosting;

/// <summary>
/// A read on its way through the node: the query, and the task <see cref="PaxosNode.ReadAsync"/> returned (this object
/// is its source, so a read costs one object besides its task). A cancellable read also holds its token's registration,
/// which whoever completes the read releases (<see cref="ReleaseCancellation"/>) — no continuation on the task is needed
/// for that.
/// </summary>
internal sealed class PendingRead(ReadOnlyMemory<byte> query) : TaskCompletionSource<ReadOnlyMemory<byte>>
{
    private static readonly Action<object?> Cancel = static state => ((PendingRead)state!).TrySetCanceled();

    /// <summary>Set before the read is posted to the loop, and never again; empty for a token that cannot cancel.</summary>
    private CancellationTokenRegistration _cancellation;

    public ReadOnlyMemory<byte> Query { get; } = query;

    /// <summary>Cancels the read's task when <paramref name="cancellationToken"/> is cancelled; at once (here) if it is
    /// already. Called once, before the read is posted, so that whoever completes it sees the registration.</summary>
    public void CancelWith(CancellationToken cancellationToken) =>
        _cancellation = cancellationToken.UnsafeRegister(Cancel, this);

    /// <summary>Stops listening to the token, if any, without waiting for a cancellation that is running on another
    /// thread (it only finds the task completed). Called before the read's task is completed, so that the token's
    /// registration can be reused by the caller's next read.</summary>
    public void ReleaseCancellation() => _cancellation.Unregister();
}
