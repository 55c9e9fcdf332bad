using System.Runtime.InteropServices;
using Paxos.Diagnostics;
using Paxos.Protocol;
using Paxos.Storage;

namespace Paxos.Hosting;

/// <summary>
/// Persists a node's output batches on a thread of its own, so that the node's loop keeps working — taking peer
/// messages, executing, answering — while an fsync is in flight (the batch contract lets a host pipeline:
/// docs/protocol-notes.md). Whatever the loop hands over during one fsync is written together and covered by
/// the next one (group commit across batches). Batches come back in order, durable, for the loop to acknowledge and send.
/// </summary>
/// <remarks>
/// Only the loop calls <see cref="Enqueue"/> and <see cref="TakeDurable"/>. While batches are in flight only the
/// writer's thread touches the storage; with none in flight the loop may write a batch itself (one that needs no
/// fsync, or, on a non-leader with nothing else waiting, one that does). A failed write stops the writer:
/// <see cref="TakeDurable"/> then throws it, and the node faults.
/// </remarks>
internal sealed class StorageWriter : IBatchWriter, IDisposable
{
    private readonly IGroupCommitStorage _storage;
    private readonly Action<bool> _onDurable;
    private readonly PaxosMetrics? _metrics;
    private readonly object _gate = new();
    private readonly List<OutputBatch> _queued = [];
    private readonly List<OutputBatch> _writing = [];
    private readonly List<OutputBatch> _durable = [];
    private readonly Thread _thread;

    /// <summary>Wakes the writer's thread. Set outside <see cref="_gate"/>, and only when the thread waits: a
    /// thread woken while the waker still held the lock (as <c>Monitor.Pulse</c> does) would at once block on it again,
    /// and on a small machine that costs two more context switches per batch. No spinning before it blocks (a
    /// <see cref="SemaphoreSlim"/> spins and yields ~25 times first): the next batch is an fsync away, so the spin never
    /// finds one and only takes the processor from the threads that would produce it.</summary>
    private readonly ManualResetEventSlim _wake = new(initialState: false, spinCount: 0);
    private bool _idle;
    private int _inFlight;
    private Exception? _failure;
    private bool _hasDurable;
    private bool _stopping;

    /// <param name="storage">The log the batches go to.</param>
    /// <param name="onDurable">Called on the writer's thread after batches became durable (or the writer failed):
    /// it wakes the loop. Its argument tells whether more batches already wait to be written.</param>
    /// <param name="name">The thread's name, for debuggers and dumps.</param>
    /// <param name="metrics">Told what each synced write made durable; none when null.</param>
    public StorageWriter(IGroupCommitStorage storage, Action<bool> onDurable, string name, PaxosMetrics? metrics = null)
    {
        _storage = storage;
        _onDurable = onDurable;
        _metrics = metrics;
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Batches handed over and not yet taken back durable.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Whether batches (or a failure) wait for <see cref="TakeDurable"/>. Read without the lock: the loop
    /// asks on every turn, and the writer sets it before it wakes the loop.</summary>
    public bool HasDurable => Volatile.Read(ref _hasDurable);

    /// <summary>Hands a batch over to be persisted after every batch handed over before it.</summary>
    public void Enqueue(OutputBatch batch)
    {
        bool wake;
        lock (_gate)
        {
            _queued.Add(batch);
            _inFlight++;
            wake = _idle;
            _idle = false;
        }

        if (wake)
        {
            _wake.Set();
        }
    }

    /// <summary>Moves the batches that became durable, oldest first, into <paramref name="into"/>; once none are left
    /// and the writer failed, throws.</summary>
    /// <exception cref="IOException">The writer failed (as did any other exception the storage threw); the batch it
    /// was writing and every later one are not durable.</exception>
    public void TakeDurable(List<OutputBatch> into)
    {
        lock (_gate)
        {
            var taken = _durable.Count;
            into.AddRange(_durable);
            _inFlight -= taken;
            _durable.Clear();
            Volatile.Write(ref _hasDurable, _failure is not null);
            if (_failure is { } failure && taken == 0)
            {
                throw new IOException("The storage failed to persist a batch; the node stops (fail-stop).", failure);
            }
        }
    }

    /// <summary>Stops the thread once it has written what was handed over (a graceful stop keeps everything the
    /// replica processed, as writing inline would); after a failure it writes nothing more.</summary>
    public void Dispose()
    {
        bool wake;
        lock (_gate)
        {
            _stopping = true;
            wake = _idle;
            _idle = false;
        }

        if (wake)
        {
            _wake.Set();
        }

        if (Thread.CurrentThread != _thread)
        {
            _thread.Join();
            _wake.Dispose();
        }
    }

    private void Run()
    {
        while (true)
        {
            bool wait;
            lock (_gate)
            {
                if (_failure is not null || (_queued.Count == 0 && _stopping))
                {
                    return; // Stopping, with nothing left to write (or nothing that may be written).
                }

                wait = _queued.Count == 0;
                _idle = wait;
                if (!wait)
                {
                    _writing.AddRange(_queued);
                    _queued.Clear();
                }
            }

            if (wait)
            {
                _wake.Wait(); // Enqueue and Dispose set it once for each time _idle was set,
                _wake.Reset(); // and not again before _idle is set once more, below.
                continue;
            }

            try
            {
                _storage.PersistAll(CollectionsMarshal.AsSpan(_writing));
            }
            catch (Exception exception)
            {
                lock (_gate)
                {
                    _failure = exception;
                    _stopping = true;
                    Volatile.Write(ref _hasDurable, true);
                }

                _onDurable(false);
                return;
            }

            _metrics?.RecordSyncedWrite(CollectionsMarshal.AsSpan(_writing)); // Before the loop may take them back.
            bool moreToWrite;
            lock (_gate)
            {
                _durable.AddRange(_writing);
                Volatile.Write(ref _hasDurable, true);
                moreToWrite = _queued.Count > 0;
            }

            _writing.Clear();
            _onDurable(moreToWrite);
        }
    }
}
