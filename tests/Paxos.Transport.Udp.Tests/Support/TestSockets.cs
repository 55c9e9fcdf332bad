using System.Net;
using System.Net.Sockets;

namespace Paxos.Transport.Udp.Tests.Support;

/// <summary>Raw UDP sockets on 127.0.0.1 for tests, and free-port reservation.</summary>
internal static class TestSockets
{
    public static Socket Bind()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return socket;
    }

    public static IPEndPoint EndpointOf(Socket socket) => (IPEndPoint)socket.LocalEndPoint!;

    public static string Text(IPEndPoint endpoint) => endpoint.ToString();

    /// <summary>Ports the system just handed out for 127.0.0.1, released again. Another process could take one
    /// before the caller binds it, so callers retry on <see cref="SocketError.AddressAlreadyInUse"/>.</summary>
    public static int[] ReservePorts(int count)
    {
        var sockets = new Socket[count];
        try
        {
            for (var i = 0; i < count; i++)
            {
                sockets[i] = Bind();
            }

            return [.. sockets.Select(s => EndpointOf(s).Port)];
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket?.Dispose();
            }
        }
    }

    /// <summary>Receives one datagram, or null if none arrives within <paramref name="timeout"/>.</summary>
    public static async Task<byte[]?> ReceiveAsync(Socket socket, TimeSpan timeout)
    {
        var buffer = new byte[64 * 1024];
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            var result = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cancel.Token);
            return buffer[..result.ReceivedBytes];
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }
}
