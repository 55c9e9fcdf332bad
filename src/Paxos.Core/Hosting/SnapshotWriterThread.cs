using Paxos.Protocol;
using Paxos.Storage;

namespace Paxos.Hosting;

/// <summary>
/// Writes a node's snapshots on a thread of their own, one at a time (the replica takes no other while one is in
/// flight), so that ordering never waits for a large state to reach the disk. Tells the node's loop when one is durable.
/// </summary>
internal sealed class SnapshotWriterThread(ISnapshotStorage storage, Action onWritten) : ISnapshotWriter, IDisposable
{
    private readonly Lock _gate = new();
    private readonly Queue<SequenceNumber> _written = new();
    private Exception? _failure;
    private Task? _writing;
    private volatile bool _hasWritten;

    public bool HasWritten => _hasWritten;

    public void Write(TakenSnapshot snapshot)
    {
        _writing = Task.Factory.StartNew(
            () =>
            {
                try
                {
                    storage.WriteSnapshot(snapshot);
                    lock (_gate)
                    {
                        _written.Enqueue(snapshot.State.Sequence);
                    }
                }
                catch (Exception exception)
                {
                    lock (_gate)
                    {
                        _failure = exception;
                    }
                }
                finally
                {
                    snapshot.Executor.Dispose();
                    _hasWritten = true;
                    onWritten();
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
    }

    public bool TryTakeWritten(out SequenceNumber sequence)
    {
        lock (_gate)
        {
            if (_written.TryDequeue(out sequence))
            {
                _hasWritten = _written.Count > 0 || _failure is not null;
                return true;
            }

            if (_failure is { } failure)
            {
                throw new IOException("Writing a snapshot failed; the node stops (fail-stop).", failure);
            }

            _hasWritten = false;
            return false;
        }
    }

    /// <summary>Waits for a snapshot being written to finish (its capture must not outlive the node).</summary>
    public void Dispose() => _writing?.Wait();
}
