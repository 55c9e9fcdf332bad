using System.Net;
using System.Net.Sockets;

namespace Paxos.Sample.Processes;

/// <summary>Finds free ports on 127.0.0.1 by binding port 0 and reading what the system chose.</summary>
internal static class FreePorts
{
    /// <summary>
    /// <paramref name="count"/> UDP ports and as many TCP ports, all distinct, that were free a moment ago. All the
    /// sockets are held open together while the ports are collected, so the system cannot hand out one port twice;
    /// they are closed before returning, so another process may take a port before a replica binds it — callers
    /// retry with new ports when that happens.
    /// </summary>
    public static (int[] Udp, int[] Tcp) Reserve(int count)
    {
        var sockets = new List<Socket>(2 * count);
        try
        {
            var udp = new int[count];
            var tcp = new int[count];
            for (var i = 0; i < count; i++)
            {
                udp[i] = Bind(sockets, SocketType.Dgram, ProtocolType.Udp);
                tcp[i] = Bind(sockets, SocketType.Stream, ProtocolType.Tcp);
            }

            return (udp, tcp);
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    private static int Bind(List<Socket> sockets, SocketType type, ProtocolType protocol)
    {
        var socket = new Socket(AddressFamily.InterNetwork, type, protocol);
        sockets.Add(socket);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
