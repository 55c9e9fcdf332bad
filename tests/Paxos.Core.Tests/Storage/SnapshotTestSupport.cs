using Paxos.Protocol;
using Paxos.Storage;

namespace Paxos.Tests.Storage;

/// <summary>An executor capture that writes <c>bytes</c> bytes of a known pattern, in chunks of random sizes.</summary>
internal sealed class PatternSnapshot(long bytes, int seed = 1) : IExecutorSnapshot
{
    public bool SawSeekableDestination { get; private set; }

    public int Writes { get; private set; }

    public bool Disposed { get; private set; }

    public static byte At(long index) => (byte)((index * 31) + (index >> 9));

    public void WriteTo(Stream destination)
    {
        SawSeekableDestination |= destination.CanSeek;
        var random = new Random(seed);
        var buffer = new byte[70_000];
        for (var written = 0L; written < bytes;)
        {
            var count = (int)Math.Min(bytes - written, random.Next(1, buffer.Length));
            for (var i = 0; i < count; i++)
            {
                buffer[i] = At(written + i);
            }

            destination.Write(buffer, 0, count);
            written += count;
            Writes++;
        }
    }

    public void Dispose() => Disposed = true;

    /// <summary>Reads an executor state to its end and checks it is the pattern of <paramref name="expectedBytes"/>
    /// bytes; returns the count read.</summary>
    public static long ReadAndCheck(Stream state, long expectedBytes)
    {
        var buffer = new byte[50_000];
        var position = 0L;
        int read;
        while ((read = state.Read(buffer, 0, buffer.Length)) > 0)
        {
            for (var i = 0; i < read; i++)
            {
                if (buffer[i] != At(position + i))
                {
                    throw new InvalidOperationException($"Executor byte {position + i} differs.");
                }
            }

            position += read;
        }

        return position == expectedBytes ? position : throw new InvalidOperationException($"Read {position} executor bytes, expected {expectedBytes}.");
    }
}

/// <summary>A destination that can only be written forward: any seek, position or length throws.</summary>
internal sealed class ForwardOnlyStream : Stream
{
    public MemoryStream Inner { get; } = new();

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException("Length asked");

    public override long Position
    {
        get => throw new NotSupportedException("Position asked");
        set => throw new NotSupportedException("Position set");
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Read");

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("Seek");

    public override void SetLength(long value) => throw new NotSupportedException("SetLength");

    public override void Write(byte[] buffer, int offset, int count) => Inner.Write(buffer, offset, count);

    public override void Write(ReadOnlySpan<byte> buffer) => Inner.Write(buffer);
}

internal static class SnapshotTestSupport
{
    public static SnapshotState State(long sequence, int clients = 2, int clusterSize = 3)
    {
        var rows = new ClientTableEntry[clients];
        for (var i = 0; i < clients; i++)
        {
            var result = new byte[i % 3 * 5];
            Array.Fill(result, (byte)(i + 1));
            rows[i] = new ClientTableEntry(new ClientId(i + 1), 100 + i, new SequenceNumber(Math.Max(0, sequence - i)), result);
        }

        return new SnapshotState { Sequence = new SequenceNumber(sequence), ClusterSize = clusterSize, Clients = rows };
    }

    public static TakenSnapshot Taken(long sequence, long batch, long executorBytes = 1000, int clients = 2) =>
        new(State(sequence, clients), new PatternSnapshot(executorBytes, seed: (int)sequence), batch);

    public static byte[] Bytes(TakenSnapshot snapshot)
    {
        var destination = new ForwardOnlyStream();
        SnapshotFormat.Write(destination, snapshot);
        return destination.Inner.ToArray();
    }

    public static StoredSnapshot ReadBytes(byte[] bytes) => SnapshotFormat.Read(() => new MemoryStream(bytes, writable: false));

    public static string Describe(SnapshotState state) =>
        $"seq={state.Sequence.Value} n={state.ClusterSize} " + string.Join(' ', state.Clients.Select(c => $"c{c.Client.Value}#{c.Timestamp}@{c.Sequence.Value}:{Convert.ToHexString(c.Result.Span)}"));
}
