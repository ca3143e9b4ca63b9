# SPDX-License-Identifier: MIT
# ch11_06.py: section 11.5.1 "Process" of Python Programming by Example (2015), as listed
# there. As in the book, stop() sets `running` in the parent's copy of the object only: the
# child never sees it and counts on until join(1) gives up and the daemon child is ended at
# exit (the C++ port, ../ch11_06.cpp, stops the child for real). Run: python3 ch11_06.py
# (Linux's "fork" start method, Python's default there before 3.14.)
import time
import multiprocessing


class MyProcess(multiprocessing.Process):
    def __init__(self):
        multiprocessing.Process.__init__(self)
        self.running = False

    def run(self):
        counter = 0
        self.running = True
        while self.running:
            print('counter:', str(counter))
            time.sleep(2)
            counter += 1

    def stop(self):
        print('stopping process...')
        self.running = False
        self.join(1)


my_process = MyProcess()
my_process.daemon = True
my_process.start()

# python 3
input("Press Enter to stop...")
# python 2
#raw_input("Press Enter to stop...")

my_process.stop()
