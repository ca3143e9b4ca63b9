# SPDX-License-Identifier: MIT
# ch11_01.py: section 11.2 "Threading" of Python Programming by Example (2015), as listed
# there; the one change is `my_thread.daemon = True` for the book's `setDaemon(True)`,
# deprecated since Python 3.10 (it prints a warning). The C++ port is ../ch11_01.cpp.
# Run: python3 ch11_01.py
import time
import threading

global running


def perform():
    global running
    counter = 0
    running = True
    while running:
        print('counter:', str(counter))
        time.sleep(2)
        counter += 1


my_thread = threading.Thread(target=perform)
my_thread.daemon = True  # the book: my_thread.setDaemon(True)
my_thread.start()

# python 3
input("Press Enter to stop...")
# python 2
#raw_input("Press Enter to stop...")

running = False
my_thread.join(2)
