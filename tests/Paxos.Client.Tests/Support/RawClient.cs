using System.Net;
using System.Net.Sockets;
using Paxos.Client.Wire;

namespace Paxos.Client.Tests.Support;

/// <summary>A client connection at the frame level, for sending a listener what a well-behaved client would not:
/// it records every byte it writes, so that a frame can be replayed or changed.</summary>
internal sealed class RawClient : IAsyncDisposable
{
    private readonly RecordingStream _stream;

    private RawClient(RecordingStream stream, WireConnection wire)
    {
        _stream = stream;
        Wire = wire;
    }

    public WireConnection Wire { get; }

    /// <summary>Every frame written, in order, each as written (sealed when the connection has a key).</summary>
    public IReadOnlyList<byte[]> Written => _stream.Writes;

    /// <summary>Connects; shakes hands unless <paramref name="hello"/> is false.</summary>
    public static async Task<RawClient> ConnectAsync(IPEndPoint endpoint, string? key = null, bool hello = true)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(endpoint);
        var keyBytes = string.IsNullOrEmpty(key) ? [] : Convert.FromBase64String(key);
        var stream = new RecordingStream(new NetworkStream(socket, ownsSocket: true));
        var wire = new WireConnection(stream, WireFormat.DefaultMaxFrameBytes, keyBytes.Length > 0);
        if (hello)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await wire.HelloAsync(keyBytes, timeout.Token);
        }

        return new RawClient(stream, wire);
    }

    /// <summary>Writes bytes as they are, past the connection's sealing.</summary>
    public async Task WriteRawAsync(byte[] bytes)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _stream.Inner.WriteAsync(bytes, timeout.Token);
    }

    /// <summary>The next frame, or null once the listener closed the connection (however the close shows).</summary>
    public async Task<ReceivedFrame?> ReceiveAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            return await Wire.ReceiveAsync(timeout.Token);
        }
        catch (Exception exception) when (exception is IOException or SocketException or WireProtocolException)
        {
            return null;
        }
    }

    /// <summary>Whether the listener closed the connection: reads until the end of the stream, within 10 s.</summary>
    public async Task<bool> ClosedByListenerAsync()
    {
        for (var i = 0; i < 100; i++)
        {
            if (await ReceiveAsync() is null)
            {
                return true;
            }
        }

        return false;
    }

    public ValueTask DisposeAsync() => Wire.DisposeAsync();

    private sealed class RecordingStream(Stream inner) : Stream
    {
        private readonly List<byte[]> _writes = [];

        public Stream Inner => inner;

        public IReadOnlyList<byte[]> Writes
        {
            get
            {
                lock (_writes)
                {
                    return [.. _writes];
                }
            }
        }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            Record(buffer.AsSpan(offset, count));
            inner.Write(buffer, offset, count);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Record(buffer.Span);
            return inner.WriteAsync(buffer, cancellationToken);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        private void Record(ReadOnlySpan<byte> bytes)
        {
            lock (_writes)
            {
                _writes.Add(bytes.ToArray());
            }
        }
    }
}
