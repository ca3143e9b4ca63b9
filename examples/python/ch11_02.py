# SPDX-License-Identifier: MIT
# ch11_02.py: section 11.2 "Threading" (a Thread subclass) of Python Programming by Example
# (2015), as listed there; the one change is `my_thread.daemon = True` for the book's
# `setDaemon(True)`, deprecated since Python 3.10. The C++ port is ../ch11_02.cpp.
# Run: python3 ch11_02.py
import time
import threading


class MyThread(threading.Thread):
    def __init__(self):
        threading.Thread.__init__(self)
        self.running = False

    def run(self):
        counter = 0
        self.running = True
        while self.running:
            print('counter:', str(counter))
            time.sleep(2)
            counter += 1

    def stop(self):
        print('stopping thread...')
        self.running = False
        self.join(2)


my_thread = MyThread()
my_thread.daemon = True  # the book: my_thread.setDaemon(True)
my_thread.start()

# python 3
input("Press Enter to stop...")
# python 2
#raw_input("Press Enter to stop...")

my_thread.stop()
