"""A pymodbus TCP server serving a register image, the peer of bench_modbus.

usage: /usr/bin/python3 pymodbus_server.py PORT IMAGE_FILE
IMAGE_FILE holds the 16-bit words of 0x8000-0x8C37 as whitespace-separated
decimal numbers (bench_modbus writes it from the device's own image)."""

import logging
import sys

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server import StartTcpServer

# Quiet: pymodbus logs every client that goes away as an error.
logging.basicConfig(level=logging.CRITICAL)
port, image = int(sys.argv[1]), sys.argv[2]
with open(image) as f:
    words = [int(w) for w in f.read().split()]
block = ModbusSequentialDataBlock(0x8000, words)
store = ModbusSlaveContext(hr=block, ir=block, zero_mode=True)
StartTcpServer(context=ModbusServerContext(slaves=store, single=True), address=("127.0.0.1", port))
